namespace GpuPs.Core.Coding;

/// <summary>
/// Shared storage for the codes here: a dense n×k B given at construction (k = n except for the heterogeneous code),
/// the partitions' relative sizes, its row supports, and a <see cref="GradientDecoder"/> that caches solutions per
/// responder set.
/// </summary>
public abstract class GradientCode : IGradientCode
{
    private readonly double[,] _b;
    private readonly int[][] _partitionsOf;
    private readonly double[] _partitionWeights;
    private readonly GradientDecoder _decoder;

    /// <param name="name">The code family (<see cref="IGradientCode.Name"/>).</param>
    /// <param name="construction">How B was built, for logs and the CLI.</param>
    /// <param name="stragglers">s, 0 ≤ s &lt; n.</param>
    /// <param name="b">n×k coefficients, 1 ≤ k ≤ 64; copied. Zero entries are "not assigned".</param>
    /// <param name="partitionWeights">Relative sizes of the k partitions (null: equal); copied.</param>
    /// <exception cref="ArgumentOutOfRangeException">n is not in 1..64, or s is not in 0..n − 1.</exception>
    /// <exception cref="ArgumentException">k is not in 1..64, or a partition weight is not finite and positive or
    /// their number is not k.</exception>
    protected GradientCode(string name, string construction, int stragglers, double[,] b, IReadOnlyList<double>? partitionWeights = null)
    {
        int n = b.GetLength(0), k = b.GetLength(1);
        Validate(n, stragglers);
        if (k is < 1 or > GradientDecoder.MaxWorkers)
            throw new ArgumentException($"B must have 1..{GradientDecoder.MaxWorkers} partition columns, got {k}.", nameof(b));
        _partitionWeights = partitionWeights?.ToArray() ?? Enumerable.Repeat(1.0, k).ToArray();
        if (_partitionWeights.Length != k || _partitionWeights.Any(w => !double.IsFinite(w) || w <= 0))
            throw new ArgumentException($"need {k} finite positive partition weights, got [{string.Join(", ", _partitionWeights)}].",
                nameof(partitionWeights));
        Name = name;
        Construction = construction;
        Stragglers = stragglers;
        _b = (double[,])b.Clone();
        _partitionsOf = Enumerable.Range(0, n)
            .Select(i => Enumerable.Range(0, k).Where(j => _b[i, j] != 0).ToArray())
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
    public IReadOnlyList<double> PartitionWeights => _partitionWeights;
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
