using System.Numerics;
using System.Numerics.Tensors;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IOptimizerKernel"/> on the host with <see cref="TensorPrimitives"/> (SIMD; Adam as one fused
/// <see cref="Vector{T}"/> pass). Update rules, with
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

    /// <summary>An optimizer for <paramref name="length"/> parameters, its state zero, <see cref="Steps"/> 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public SimdOptimizer(OptimizerSettings settings, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Settings = settings;
        Length = length;
        bool adam = settings.Kind == OptimizerKind.Adam;
        _first = settings.Kind == OptimizerKind.Sgd ? [] : new float[length];
        _second = adam ? new float[length] : [];
        _scratch = settings.WeightDecay != 0 ? new float[length] : [];
    }

    /// <inheritdoc />
    public OptimizerSettings Settings { get; }
    /// <inheritdoc />
    public int Length { get; }
    /// <inheritdoc />
    public long Steps { get; private set; }

    /// <inheritdoc />
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

    /// <summary>
    /// One fused pass with <see cref="Vector{T}"/>: the same update as nine TensorPrimitives passes, which measured
    /// 5–12 ms per 1M-parameter step (2 cores) against ~1 ms for SGD, being bound by memory traffic; fused: 3.2 ms.
    /// </summary>
    private void AdamStep(Span<float> parameters, ReadOnlySpan<float> g)
    {
        var s = Settings;
        var scalars = OptimizerStepScalars.For(s, Steps);
        float beta1 = s.Beta1, beta2 = s.Beta2, epsilon = s.Epsilon;
        float stepSize = -s.LearningRate / scalars.BiasCorrection1, inverseCorrection2 = 1 / scalars.BiasCorrection2;
        Span<float> m = _first, v = _second;
        int k = 0;
        for (; k <= parameters.Length - Vector<float>.Count; k += Vector<float>.Count)
        {
            var gk = new Vector<float>(g[k..]);
            var mk = beta1 * new Vector<float>(m[k..]) + (1 - beta1) * gk;
            var vk = beta2 * new Vector<float>(v[k..]) + (1 - beta2) * gk * gk;
            var pk = new Vector<float>(parameters[k..]) + stepSize * mk / (Vector.SquareRoot(vk * inverseCorrection2) + new Vector<float>(epsilon));
            mk.CopyTo(m[k..]);
            vk.CopyTo(v[k..]);
            pk.CopyTo(parameters[k..]);
        }
        for (; k < parameters.Length; k++)
        {
            m[k] = beta1 * m[k] + (1 - beta1) * g[k];
            v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k];
            parameters[k] += stepSize * m[k] / (MathF.Sqrt(v[k] * inverseCorrection2) + epsilon);
        }
    }

    /// <inheritdoc />
    public OptimizerState ExportState() => new(Settings.Kind, Steps, Slots().Select(slot => slot.ToArray()).ToArray());

    /// <inheritdoc />
    public void ImportState(OptimizerState state)
    {
        KernelArguments.CheckOptimizerState(Settings, Length, state);
        var slots = Slots();
        for (int i = 0; i < slots.Length; i++) state.Slots[i].CopyTo(slots[i], 0);
        Steps = state.Steps;
    }

    /// <summary>The state vectors in <see cref="OptimizerState"/> order.</summary>
    private float[][] Slots() => Settings.Kind switch
    {
        OptimizerKind.Sgd => [],
        OptimizerKind.Momentum => [_first],
        _ => [_first, _second],
    };

    /// <summary>Does nothing: the optimizer holds only managed arrays.</summary>
    public void Dispose() { }
}
