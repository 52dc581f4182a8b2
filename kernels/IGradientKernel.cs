namespace GpuPs.Kernels;

/// <summary>
/// Loss and gradient of one model over rows of a data set held on the device, computed step by step: the parameters
/// of a step are loaded once, gradients of any number of row ranges are added (scaled) into an accumulator that stays
/// on the device, and the accumulated gradient is read back once per message.
/// </summary>
/// <remarks>
/// <para>Contract: <see cref="SetData"/> once (uploads features and labels; later calls address rows by range; again
/// between steps when a rebalanced worker's rows change); then,
/// per step, <see cref="LoadParameters"/> and any number of <see cref="AddGradient"/>,
/// <see cref="ComputeAndDiscardGradient"/>, <see cref="ReadGradient"/> and <see cref="Evaluate"/> calls, all on the
/// loaded parameters. Results are sums over rows, not means, so that partial gradients of disjoint row ranges add up
/// exactly to the full-batch gradient sum. Not thread-safe: one kernel object per worker thread.</para>
/// <para>The worker's patterns: a plain step adds its batch's ranges and reads once; a coded step adds each held
/// partition with its weight <c>B[i,h]</c> (the fused encode <c>c_i = Σ_h B[i,h] g_h</c>) and reads once; a
/// multi-message step adds and reads per partition.</para>
/// <code>
/// using var k = backend.CreateGradientKernel(shape);
/// k.SetData(features, labels);
/// k.LoadParameters(parameters);
/// double loss = k.AddGradient(start: 0, count: 64, scale: 0.5f);
/// loss += k.AddGradient(start: 64, count: 64, scale: 2f);
/// k.ReadGradient(gradient);   // 0.5·g[0,64) + 2·g[64,128); the accumulator is empty again
/// </code>
/// </remarks>
public interface IGradientKernel : IDisposable
{
    /// <summary>The model whose loss and gradient this kernel computes; fixed at creation.</summary>
    ModelShape Shape { get; }

    /// <summary>Rows loaded by <see cref="SetData"/>.</summary>
    int Rows { get; }

    /// <summary>Uploads the data: <paramref name="features"/> is row-major [rows x Features]; labels in [0, Classes).</summary>
    void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels);

    /// <summary>
    /// Starts a step: copies <paramref name="parameters"/> (length <see cref="ModelShape.ParameterCount"/>, else
    /// <see cref="ArgumentException"/>) to the device for every later call, and empties the gradient accumulator,
    /// so that a step abandoned before its <see cref="ReadGradient"/> leaves nothing behind.
    /// </summary>
    void LoadParameters(ReadOnlySpan<float> parameters);

    /// <summary>
    /// Computes the gradient sum g over rows [start, start+count) at the loaded parameters and adds it to the
    /// accumulator: <c>accumulator += scale · g</c>. An empty range leaves the accumulator as it was.
    /// </summary>
    /// <returns>Sum of per-row losses (unscaled).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the loaded rows.</exception>
    /// <exception cref="InvalidOperationException">No parameters were loaded.</exception>
    double AddGradient(int start, int count, float scale = 1f);

    /// <summary>
    /// Does the work of <see cref="AddGradient"/> (same computation, same transfers) and discards the gradient: the
    /// accumulator is unchanged. For a throttled worker that repeats its computation to simulate a slower device;
    /// unlike <c>AddGradient(…, scale: 0)</c> it cannot turn the accumulator into NaN (NaN · 0 = NaN).
    /// </summary>
    /// <returns>Sum of per-row losses, as <see cref="AddGradient"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the loaded rows.</exception>
    /// <exception cref="InvalidOperationException">No parameters were loaded.</exception>
    double ComputeAndDiscardGradient(int start, int count);

    /// <summary>
    /// Copies the accumulator into <paramref name="gradient"/> (length <see cref="ModelShape.ParameterCount"/>, else
    /// <see cref="ArgumentException"/>) and empties it: the next <see cref="AddGradient"/> starts the next message
    /// from zero. Zeros when nothing was added since the last read or load.
    /// </summary>
    void ReadGradient(Span<float> gradient);

    /// <summary>
    /// Loss sum and number of correctly classified rows over [start, start+count), at the loaded parameters; the
    /// accumulator is unchanged.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the loaded rows.</exception>
    /// <exception cref="InvalidOperationException">No parameters were loaded.</exception>
    EvaluationResult Evaluate(int start, int count);

    /// <summary>
    /// Whether this kernel computes a gradient block by block (<see cref="AddBlockRows"/>, <see cref="ReadGradientBlock"/>):
    /// the MLP, whose first layer's gradient rows (one per hidden unit) are independent once the hidden deltas are known.
    /// </summary>
    bool ComputesBlocks { get; }

    /// <summary>
    /// Adds rows [start, start+count) to the rows of this step's blocked gradient: runs their forward pass and keeps what
    /// every block of the gradient needs (hidden activations, hidden deltas, output residuals). The accumulator of
    /// <see cref="AddGradient"/> is unchanged; <see cref="LoadParameters"/> empties the block rows. Call it once per row
    /// range of the batch (a batch that wraps around its partition has two), then read the blocks.
    /// </summary>
    /// <returns>The rows' loss sum, and a bound on the magnitude of every value of their gradient sum.</returns>
    /// <exception cref="NotSupportedException">Not <see cref="ComputesBlocks"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the loaded rows.</exception>
    /// <exception cref="InvalidOperationException">No parameters were loaded.</exception>
    BlockRows AddBlockRows(int start, int count);

    /// <summary>
    /// Computes keys [<paramref name="keyStart"/>, <paramref name="keyStart"/> + destination length) of the gradient sum
    /// over the block rows (<see cref="AddBlockRows"/>) and writes them, times <paramref name="scale"/>, into
    /// <paramref name="destination"/>: the same values as <see cref="AddGradient"/> with that scale over those rows, to
    /// float rounding. Only the first layer's hidden units (rows of W1) that the keys touch are computed; the small
    /// second layer and the biases whenever the keys reach them. Blocks may be read in any order, any number of times.
    /// </summary>
    /// <exception cref="NotSupportedException">Not <see cref="ComputesBlocks"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The keys are outside the parameter vector.</exception>
    /// <exception cref="InvalidOperationException">No rows were added since the parameters were loaded.</exception>
    void ReadGradientBlock(int keyStart, Span<float> destination, float scale);
}

/// <summary>What <see cref="IGradientKernel.AddBlockRows"/> learnt of its rows before any block is computed.</summary>
/// <param name="LossSum">Sum of the rows' losses.</param>
/// <param name="GradientBound">An upper bound on |g_k| for every key k of the rows' (unscaled) gradient sum: with
/// <c>x</c> a row's features, <c>h</c> its hidden activations, <c>d</c> its hidden deltas and <c>r</c> its output residuals,
/// <c>Σ_rows max|d|·max(1, max|x|) + max|r|·max(1, max|h|)</c>; NaN or infinite when any of them is not finite. It lets a
/// caller check a gradient's limits before its first block is computed.</param>
public readonly record struct BlockRows(double LossSum, double GradientBound)
{
    /// <summary>Both sums over two sets of rows.</summary>
    public static BlockRows operator +(BlockRows a, BlockRows b) => new(a.LossSum + b.LossSum, a.GradientBound + b.GradientBound);
}

/// <summary>Sums over evaluated rows.</summary>
public readonly record struct EvaluationResult(double LossSum, int Correct, int Rows)
{
    /// <summary>Loss per row, <c>LossSum / Rows</c>; NaN when no rows were evaluated.</summary>
    public double MeanLoss => Rows == 0 ? double.NaN : LossSum / Rows;
    /// <summary>Fraction of rows classified correctly, in [0, 1]; NaN when no rows were evaluated.</summary>
    public double Accuracy => Rows == 0 ? double.NaN : (double)Correct / Rows;
}
