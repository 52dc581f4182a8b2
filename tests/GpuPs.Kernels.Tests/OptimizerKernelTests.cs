using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// <see cref="IOptimizerKernel"/> against <see cref="ReferenceOptimizer"/> over several steps, and state export/import
/// (checkpoints), per backend.
/// </summary>
public abstract class OptimizerKernelTests(BackendFixture fixture)
{
    private const int Length = 1003;  // not a multiple of any SIMD width or thread count

    public static TheoryData<OptimizerKind, float> Cases => new()
    {
        { OptimizerKind.Sgd, 0f }, { OptimizerKind.Sgd, 0.01f },
        { OptimizerKind.Momentum, 0f }, { OptimizerKind.Momentum, 0.01f },
        { OptimizerKind.Adam, 0f }, { OptimizerKind.Adam, 0.01f },
    };

    [BackendTheory]
    [MemberData(nameof(Cases))]
    public void StepsMatchReferenceFormulas(OptimizerKind kind, float weightDecay)
    {
        var settings = new OptimizerSettings(kind, LearningRate: 0.05f, WeightDecay: weightDecay);
        using var optimizer = fixture.Backend.CreateOptimizer(settings, Length);
        var parameters = TestData.Vector(Length, seed: 1);
        var expected = TestData.ToDouble(parameters);
        var reference = new ReferenceOptimizer(settings, Length);

        for (int step = 1; step <= 5; step++)
        {
            var gradient = Gradient(step);
            optimizer.Apply(parameters, gradient);
            reference.Apply(expected, gradient);
            Assert.Equal(step, optimizer.Steps);
        }

        TestData.AssertClose(expected, parameters, 1e-5, $"{kind} parameters");
        Assert.Equal(settings, optimizer.Settings);
        Assert.Equal(Length, optimizer.Length);
    }

    /// <summary>Export after 3 steps, import into a fresh optimizer, 3 more steps: bitwise what 6 uninterrupted steps give.</summary>
    [BackendTheory]
    [MemberData(nameof(Cases))]
    public void ImportedStateContinuesExactlyAsTheExporter(OptimizerKind kind, float weightDecay)
    {
        var settings = new OptimizerSettings(kind, LearningRate: 0.05f, WeightDecay: weightDecay);
        using var uninterrupted = fixture.Backend.CreateOptimizer(settings, Length);
        using var resumed = fixture.Backend.CreateOptimizer(settings, Length);
        var parameters = TestData.Vector(Length, seed: 1);
        for (int step = 1; step <= 3; step++) uninterrupted.Apply(parameters, Gradient(step));

        var state = uninterrupted.ExportState();
        resumed.ImportState(state);
        foreach (var slot in state.Slots) Array.Fill(slot, float.NaN);  // import copied: the checkpoint is not aliased
        var resumedParameters = (float[])parameters.Clone();
        for (int step = 4; step <= 6; step++)
        {
            uninterrupted.Apply(parameters, Gradient(step));
            resumed.Apply(resumedParameters, Gradient(step));
        }

        Assert.Equal(kind, state.Kind);
        Assert.Equal(3, state.Steps);
        Assert.Equal(OptimizerState.SlotCount(kind), state.Slots.Length);
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(parameters, resumedParameters);
        var expected = uninterrupted.ExportState();
        var actual = resumed.ExportState();
        Assert.Equal(expected.Steps, actual.Steps);
        for (int i = 0; i < expected.Slots.Length; i++) Assert.Equal(expected.Slots[i], actual.Slots[i]);
    }

    /// <summary>The exported slots are the rules' state: momentum's velocity, Adam's m and v, from the update formulas.</summary>
    [BackendTheory]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Adam)]
    public void ExportedSlotsAreTheRulesState(OptimizerKind kind)
    {
        var settings = new OptimizerSettings(kind, LearningRate: 0.05f);
        using var optimizer = fixture.Backend.CreateOptimizer(settings, Length);
        Assert.All(optimizer.ExportState().Slots, slot => Assert.All(slot, value => Assert.Equal(0f, value)));
        var parameters = TestData.Vector(Length, seed: 1);

        optimizer.Apply(parameters, Gradient(1));
        optimizer.Apply(parameters, Gradient(2));

        var state = optimizer.ExportState();
        var g1 = TestData.ToDouble(Gradient(1));
        var g2 = TestData.ToDouble(Gradient(2));
        double[] first = kind == OptimizerKind.Momentum
            ? g1.Zip(g2, (a, b) => settings.Momentum * a + b).ToArray()
            : g1.Zip(g2, (a, b) => settings.Beta1 * (1 - settings.Beta1) * a + (1 - settings.Beta1) * b).ToArray();
        TestData.AssertClose(first, state.Slots[0], 1e-5, kind == OptimizerKind.Momentum ? "velocity" : "m");
        if (kind == OptimizerKind.Adam)
        {
            var second = g1.Zip(g2, (a, b) => settings.Beta2 * (1 - settings.Beta2) * a * a + (1 - settings.Beta2) * b * b).ToArray();
            TestData.AssertClose(second, state.Slots[1], 1e-4, "v");
        }
    }

    [BackendFact]
    public void MismatchedStateIsRejected()
    {
        using var adam = fixture.Backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Adam, 0.1f), 4);
        using var momentum = fixture.Backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Momentum, 0.1f), 4);
        var parameters = new float[4];
        adam.Apply(parameters, [1, 2, 3, 4]);
        var before = adam.ExportState();

        Assert.Throws<ArgumentException>(() => momentum.ImportState(before));
        Assert.Throws<ArgumentException>(() => adam.ImportState(new OptimizerState(OptimizerKind.Adam, 1, [new float[4]])));
        Assert.Throws<ArgumentException>(() => adam.ImportState(new OptimizerState(OptimizerKind.Adam, 1, [new float[4], new float[3]])));
        Assert.Throws<ArgumentException>(() => adam.ImportState(new OptimizerState(OptimizerKind.Adam, 1, [new float[5], new float[5]])));
        Assert.Throws<ArgumentException>(() => adam.ImportState(new OptimizerState(OptimizerKind.Adam, -1, [new float[4], new float[4]])));

        Assert.Equal(0, momentum.Steps);
        var after = adam.ExportState();
        Assert.Equal(1, after.Steps);
        for (int i = 0; i < before.Slots.Length; i++) Assert.Equal(before.Slots[i], after.Slots[i]);
    }

    [BackendFact]
    public void MismatchedLengthsAreRejected()
    {
        using var optimizer = fixture.Backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Adam, 0.1f), 4);
        Assert.Throws<ArgumentException>(() => optimizer.Apply(new float[4], new float[3]));
        Assert.Equal(0, optimizer.Steps);
    }

    private static float[] Gradient(int step) => TestData.Vector(Length, seed: 10 + step, bound: 2);
}

public sealed class SimdOptimizerKernelTests(SimdBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<SimdBackendFixture>;

public sealed class IlgpuCpuOptimizerKernelTests(IlgpuCpuBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaOptimizerKernelTests(CudaBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<CudaBackendFixture>;

[RequiresAccelerator(AcceleratorChoice.OpenCL)]
public sealed class OpenCLOptimizerKernelTests(OpenCLBackendFixture fixture) : OptimizerKernelTests(fixture), IClassFixture<OpenCLBackendFixture>;
