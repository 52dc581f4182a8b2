namespace GpuPs.Kernels;

/// <summary>
/// The geometry and checks of a blocked MLP gradient (<see cref="IGradientKernel.ReadGradientBlock"/>), shared by every
/// backend: which hidden units (rows of W1) a key range touches, whether it reaches the tail (b1, W2, b2, laid out after
/// W1), and the per-row magnitude bound of <see cref="BlockRows.GradientBound"/>.
/// </summary>
internal readonly record struct GradientBlocks(ModelShape Shape, int KeyStart, int Length)
{
    /// <summary>Where the tail (b1, then W2, then b2) starts: the end of W1.</summary>
    public int TailStart => Shape.Hidden * Shape.Features;

    /// <summary>The first hidden unit whose W1 row the keys touch.</summary>
    public int FirstUnit => Math.Min(KeyStart, TailStart) / Shape.Features;

    /// <summary>One past the last hidden unit whose W1 row the keys touch (FirstUnit when they touch none).</summary>
    public int EndUnit => (Math.Min(KeyStart + Length, TailStart) + Shape.Features - 1) / Shape.Features;

    /// <summary>Whether the keys reach the tail.</summary>
    public bool TouchesTail => KeyStart + Length > TailStart;

    /// <summary>
    /// Checks a <see cref="IGradientKernel.ReadGradientBlock"/> call: an MLP kernel, keys inside the vector, rows added.
    /// </summary>
    public static GradientBlocks Check(ModelShape shape, int keyStart, int length, bool hasRows)
    {
        CheckSupported(shape);
        if (keyStart < 0 || length < 0 || keyStart > shape.ParameterCount - length)
            throw new ArgumentOutOfRangeException(nameof(keyStart), $"keys [{keyStart}, {keyStart}+{length}) are outside the {shape.ParameterCount} parameters");
        if (!hasRows)
            throw new InvalidOperationException($"no block rows: call {nameof(IGradientKernel.AddBlockRows)} after {nameof(IGradientKernel.LoadParameters)} first");
        return new GradientBlocks(shape, keyStart, length);
    }

    /// <summary>Throws <see cref="NotSupportedException"/> unless the model is the MLP.</summary>
    public static void CheckSupported(ModelShape shape)
    {
        if (shape.Kind != ModelKind.Mlp)
            throw new NotSupportedException($"a {shape.Kind} gradient is not computed in blocks (only the MLP's is)");
    }

    /// <summary>
    /// One row's share of <see cref="BlockRows.GradientBound"/>: |dW1| ≤ max|d|·max|x|, |db1| ≤ max|d|,
    /// |dW2| ≤ max|r|·max|h|, |db2| ≤ max|r|, given each vector's value of largest magnitude (its sign ignored, as
    /// <c>TensorPrimitives.MaxMagnitude</c> returns it). NaN propagates.
    /// </summary>
    public static double RowBound(float maxDelta, float maxFeature, float maxResidual, float maxHidden) =>
        (double)Math.Abs(maxDelta) * Math.Max(1f, Math.Abs(maxFeature)) + (double)Math.Abs(maxResidual) * Math.Max(1f, Math.Abs(maxHidden));
}
