namespace GpuPs.Kernels;

/// <summary>
/// Per-step scalars every optimizer backend uses, computed once on the host in double precision:
/// Adam's bias corrections <c>1 - β^t</c> lose accuracy in float for large t.
/// </summary>
internal readonly record struct OptimizerStepScalars(float BiasCorrection1, float BiasCorrection2)
{
    /// <param name="settings">The optimizer's β1 and β2.</param>
    /// <param name="step">The 1-based step about to be applied (Adam's t).</param>
    public static OptimizerStepScalars For(OptimizerSettings settings, long step) => new(
        (float)(1 - Math.Pow(settings.Beta1, step)),
        (float)(1 - Math.Pow(settings.Beta2, step)));
}
