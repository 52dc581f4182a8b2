using System.Numerics.Tensors;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IOptimizerKernel"/> on the host with <see cref="TensorPrimitives"/> (SIMD). Update rules, with
/// <c>g' = g + weightDecay·p</c>:
/// SGD <c>p -= lr·g'</c>; momentum <c>v = μ·v + g'; p -= lr·v</c>;
/// Adam <c>m = β1·m + (1-β1)·g'; v = β2·v + (1-β2)·g'²; p -= lr·(m/(1-β1^t)) / (√(v/(1-β2^t)) + ε)</c>.
/// Allocation-free per step (state and scratch are allocated once). Not thread-safe.
/// </summary>
public sealed class SimdOptimizer : IOptimizerKernel
{
    private readonly float[] _first;    // momentum velocity or Adam's m
    private readonly float[] _second;   // Adam's v
    private readonly float[] _scratch;  // decayed gradient g'
    private readonly float[] _update;   // Adam's per-element step

    public SimdOptimizer(OptimizerSettings settings, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Settings = settings;
        Length = length;
        bool adam = settings.Kind == OptimizerKind.Adam;
        _first = settings.Kind == OptimizerKind.Sgd ? [] : new float[length];
        _second = adam ? new float[length] : [];
        _scratch = settings.WeightDecay != 0 ? new float[length] : [];
        _update = adam ? new float[length] : [];
    }

    public OptimizerSettings Settings { get; }
    public int Length { get; }
    public long Steps { get; private set; }

    public void Apply(Span<float> parameters, ReadOnlySpan<float> gradient)
    {
        KernelArguments.CheckOptimizerStep(Length, parameters, gradient);
        ReadOnlySpan<float> g = gradient;
        if (Settings.WeightDecay != 0)
        {
            TensorPrimitives.MultiplyAdd(parameters, Settings.WeightDecay, gradient, _scratch);
            g = _scratch;
        }
        Steps++;
        float lr = Settings.LearningRate;
        switch (Settings.Kind)
        {
            case OptimizerKind.Sgd:
                TensorPrimitives.MultiplyAdd(g, -lr, parameters, parameters);
                break;
            case OptimizerKind.Momentum:
                TensorPrimitives.MultiplyAdd(_first, Settings.Momentum, g, _first);
                TensorPrimitives.MultiplyAdd(_first, -lr, parameters, parameters);
                break;
            case OptimizerKind.Adam:
                AdamStep(parameters, g);
                break;
            default:
                throw new InvalidOperationException($"unknown optimizer {Settings.Kind}");
        }
    }

    private void AdamStep(Span<float> parameters, ReadOnlySpan<float> g)
    {
        var s = Settings;
        var scalars = OptimizerStepScalars.For(s, Steps);
        TensorPrimitives.Multiply(_first, s.Beta1, _first);
        TensorPrimitives.MultiplyAdd(g, 1 - s.Beta1, _first, _first);
        TensorPrimitives.Multiply(g, g, _update);
        TensorPrimitives.Multiply(_second, s.Beta2, _second);
        TensorPrimitives.MultiplyAdd(_update, 1 - s.Beta2, _second, _second);
        // update = m̂ / (√v̂ + ε), with the bias corrections folded into the scalar factors.
        TensorPrimitives.Multiply(_second, 1 / scalars.BiasCorrection2, _update);
        TensorPrimitives.Sqrt(_update, _update);
        TensorPrimitives.Add(_update, s.Epsilon, _update);
        TensorPrimitives.Divide(_first, _update, _update);
        TensorPrimitives.MultiplyAdd(_update, -s.LearningRate / scalars.BiasCorrection1, parameters, parameters);
    }

    public void Dispose() { }
}
