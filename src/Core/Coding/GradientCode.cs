namespace GpuPs.Core.Coding;

/// <summary>
/// Shared storage for the codes here: a dense n×n B given at construction, its row supports, and a
/// <see cref="GradientDecoder"/> that caches solutions per responder set.
/// </summary>
public abstract class GradientCode : IGradientCode
{
    private readonly double[,] _b;
    private readonly int[][] _partitionsOf;
    private readonly GradientDecoder _decoder;

    /// <param name="name">The code family (<see cref="IGradientCode.Name"/>).</param>
    /// <param name="construction">How B was built, for logs and the CLI.</param>
    /// <param name="stragglers">s, 0 ≤ s &lt; n.</param>
    /// <param name="b">n×n coefficients; copied. Zero entries are "not assigned".</param>
    /// <exception cref="ArgumentOutOfRangeException">n is not in 1..64, or s is not in 0..n − 1.</exception>
    /// <exception cref="ArgumentException">B is not square.</exception>
    protected GradientCode(string name, string construction, int stragglers, double[,] b)
    {
        int n = b.GetLength(0);
        Validate(n, stragglers);
        if (b.GetLength(1) != n) throw new ArgumentException($"B must be square, got {n}×{b.GetLength(1)}.", nameof(b));
        Name = name;
        Construction = construction;
        Stragglers = stragglers;
        _b = (double[,])b.Clone();
        _partitionsOf = Enumerable.Range(0, n)
            .Select(i => Enumerable.Range(0, n).Where(j => _b[i, j] != 0).ToArray())
            .ToArray();
        _decoder = new GradientDecoder(this);
    }

    /// <inheritdoc />
    public string Name { get; }
    /// <inheritdoc />
    public string Construction { get; }
    /// <inheritdoc />
    public int Workers => _b.GetLength(0);
    /// <inheritdoc />
    public int Stragglers { get; }
    /// <inheritdoc />
    public int Partitions => _b.GetLength(1);
    /// <inheritdoc />
    public int MinResponders => Workers - Stragglers;
    /// <inheritdoc />
    public double this[int worker, int partition] => _b[worker, partition];
    /// <inheritdoc />
    public IReadOnlyList<int> PartitionsOf(int worker) => _partitionsOf[worker];
    /// <inheritdoc />
    public bool IsAssigned(int worker, int partition) => _b[worker, partition] != 0;
    /// <inheritdoc />
    public DecodeResult Decode(IReadOnlyList<int> responders) => _decoder.Decode(responders);

    /// <summary>Checks 1 ≤ n ≤ <see cref="GradientDecoder.MaxWorkers"/> and 0 ≤ s &lt; n.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Either bound is violated.</exception>
    public static void Validate(int workers, int stragglers)
    {
        if (workers is < 1 or > GradientDecoder.MaxWorkers)
            throw new ArgumentOutOfRangeException(nameof(workers), workers,
                $"Number of workers n must be in 1..{GradientDecoder.MaxWorkers}.");
        if (stragglers < 0 || stragglers >= workers)
            throw new ArgumentOutOfRangeException(nameof(stragglers), stragglers,
                $"Number of stragglers s must satisfy 0 ≤ s < n = {workers}.");
    }
}
