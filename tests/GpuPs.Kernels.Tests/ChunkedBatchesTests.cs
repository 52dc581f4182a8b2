using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// A batch larger than the per-row buffers runs in row chunks whose gradients add up on the device: the same losses,
/// gradients and evaluation as one pass (here chunks of 3 rows against one pass of 157, on the CPU accelerator).
/// </summary>
public sealed class ChunkedBatchesTests(IlgpuCpuBackendFixture fixture) : IClassFixture<IlgpuCpuBackendFixture>
{
    [Theory]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.Softmax)]
    [InlineData(ModelKind.Logistic)]
    public void ChunksGiveWhatOnePassGives(ModelKind kind)
    {
        var backend = (IlgpuBackend)fixture.Backend;
        var shape = new ModelShape(kind, Features: 9, Classes: kind == ModelKind.Logistic ? 2 : 4, Hidden: kind == ModelKind.Mlp ? 11 : 0);
        var data = TestData.Data(shape, 160, seed: 8);
        var parameters = kind == ModelKind.Mlp ? ModelInitializer.Initialize(shape, 2) : TestData.Parameters(shape, seed: 3, bound: 0.3);
        var results = new List<(double Loss, float[] Gradient, EvaluationResult Evaluation)>();
        foreach (int maxChunkElements in new[] { 1 << 26, 3 * Math.Max(shape.Hidden, shape.Classes) })
        {
            using var kernel = new IlgpuGradientKernel(backend, shape, maxChunkElements: maxChunkElements);
            kernel.SetData(data.Features, data.Labels);
            kernel.LoadParameters(parameters);
            double loss = kernel.AddGradient(1, 157, scale: 0.5f) + kernel.AddGradient(2, 100, scale: -2f);
            kernel.ComputeAndDiscardGradient(0, 160);
            var gradient = new float[shape.ParameterCount];
            kernel.ReadGradient(gradient);
            results.Add((loss, gradient, kernel.Evaluate(3, 155)));
        }

        TestData.AssertClose(results[0].Loss, results[1].Loss, 1e-6, "loss");
        TestData.AssertClose(results[0].Gradient, results[1].Gradient, 1e-5, "gradient");
        Assert.Equal(results[0].Evaluation.Correct, results[1].Evaluation.Correct);
        Assert.Equal(155, results[1].Evaluation.Rows);
        TestData.AssertClose(results[0].Evaluation.LossSum, results[1].Evaluation.LossSum, 1e-6, "evaluation loss");
    }
}
