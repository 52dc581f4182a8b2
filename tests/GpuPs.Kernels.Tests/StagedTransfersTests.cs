using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// Parameters and gradients copied through the page-locked staging buffer (the GPU default) give the same bits as
/// direct copies, here on the CPU accelerator (CI's stand-in; its default is direct): the last of several loads wins,
/// and a read after a read gives zeros.
/// </summary>
public sealed class StagedTransfersTests(IlgpuCpuBackendFixture fixture) : IClassFixture<IlgpuCpuBackendFixture>
{
    [Fact]
    public void StagedAndDirectCopiesGiveTheSameGradient()
    {
        var backend = (IlgpuBackend)fixture.Backend;
        var shape = new ModelShape(ModelKind.Mlp, Features: 9, Classes: 4, Hidden: 11);
        var data = TestData.Data(shape, 150, seed: 5);
        var stale = TestData.Parameters(shape, seed: 6);
        var parameters = ModelInitializer.Initialize(shape, 7);
        var gradients = new List<float[]>();
        var losses = new List<double>();
        foreach (bool staged in new[] { false, true })
        {
            using var kernel = new IlgpuGradientKernel(backend, shape, stageTransfers: staged);
            kernel.SetData(data.Features, data.Labels);
            kernel.LoadParameters(stale);
            kernel.LoadParameters(parameters);
            losses.Add(kernel.AddGradient(3, 140, scale: 0.5f));
            var gradient = new float[shape.ParameterCount];
            kernel.ReadGradient(gradient);
            gradients.Add(gradient);
            var empty = Enumerable.Repeat(1f, shape.ParameterCount).ToArray();
            kernel.ReadGradient(empty);
            Assert.All(empty, v => Assert.Equal(0f, v));
        }

        Assert.Equal(losses[0], losses[1]);
        Assert.Equal(gradients[0], gradients[1]);
        Assert.Contains(gradients[1], v => v != 0);
    }
}
