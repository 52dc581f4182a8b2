namespace GpuPs.Kernels;

/// <summary>
/// Update rule of an optimizer, written below with g the gradient after weight decay (<see cref="SimdOptimizer"/> has
/// the full formulas). Decides the number of state vectors (<see cref="OptimizerState.SlotCount"/>).
/// </summary>
public enum OptimizerKind
{
    /// <summary>Plain SGD, <c>p -= lr·g</c>; no state.</summary>
    Sgd,
    /// <summary>Heavy-ball momentum, <c>v = μ·v + g; p -= lr·v</c>; one state vector (the velocity).</summary>
    Momentum,
    /// <summary>Adam with bias correction; two state vectors (m, v) and the step count t.</summary>
    Adam,
}

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
    /// <summary>The hyper-parameters given at creation; fixed (not part of the exported state).</summary>
    OptimizerSettings Settings { get; }
    /// <summary>Length of the parameter and gradient vectors, fixed at creation.</summary>
    int Length { get; }
    /// <summary>Number of steps applied so far (Adam's t).</summary>
    long Steps { get; }
    /// <summary>
    /// One step in place: updates <paramref name="parameters"/> and the state with the mean
    /// <paramref name="gradient"/>, and increments <see cref="Steps"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Either span's length is not <see cref="Length"/>.</exception>
    void Apply(Span<float> parameters, ReadOnlySpan<float> gradient);

    /// <summary>
    /// A copy of the full state (<see cref="Steps"/> and the state vectors): an optimizer that imports it continues
    /// exactly as this one would, bit for bit on the same backend.
    /// </summary>
    OptimizerState ExportState();

    /// <summary>
    /// Replaces the full state with a copy of <paramref name="state"/>, as exported by an optimizer of the same kind and
    /// length (on any backend). Settings are not part of the state: this optimizer keeps its own.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The state is of another <see cref="OptimizerKind"/>, has the wrong number of slots, a slot of another length than
    /// <see cref="Length"/>, or negative steps. The optimizer is unchanged then.
    /// </exception>
    void ImportState(OptimizerState state);
}
