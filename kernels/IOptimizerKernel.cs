namespace GpuPs.Kernels;

public enum OptimizerKind { Sgd, Momentum, Adam }

/// <summary>Hyper-parameters of an optimizer. Defaults are the usual ones.</summary>
public sealed record OptimizerSettings(
    OptimizerKind Kind,
    float LearningRate,
    float Momentum = 0.9f,
    float Beta1 = 0.9f,
    float Beta2 = 0.999f,
    float Epsilon = 1e-8f,
    float WeightDecay = 0f);

/// <summary>
/// Applies one optimizer step in place: <c>parameters ← update(parameters, gradient)</c>, where gradient is the
/// MEAN gradient. Owns its state (velocity, Adam moments and step count) for a parameter vector of fixed length.
/// Not thread-safe.
/// </summary>
public interface IOptimizerKernel : IDisposable
{
    OptimizerSettings Settings { get; }
    int Length { get; }
    /// <summary>Number of steps applied so far (Adam's t).</summary>
    long Steps { get; }
    void Apply(Span<float> parameters, ReadOnlySpan<float> gradient);
}
