namespace GpuPs.Core.Coding;

/// <summary>
/// A gradient code (Tandon et al., ICML 2017): the data set is split into <see cref="Partitions"/>
/// parts, worker i computes the partial gradients g_j of the partitions it holds and sends the single
/// vector c_i = Σ_j B[i,j]·g_j. For every responder set F of at least <see cref="MinResponders"/>
/// workers there are weights a with aᵀB_F = 1ᵀ, so Σ_j g_j = Σ_{i∈F} a_i·c_i.
/// Implementations are immutable and thread-safe; B is fixed at construction so that every node
/// that builds the same code from the same (name, n, s) gets bit-identical coefficients.
/// </summary>
public interface IGradientCode
{
    /// <summary>Code family: "fractional", "cyclic" or "uncoded" (the factory's names).</summary>
    string Name { get; }

    /// <summary>How B was built (e.g. which cyclic construction, which seed), for logs and the CLI.</summary>
    string Construction { get; }

    /// <summary>n, the number of workers (rows of B); 1 ≤ n ≤ 64.</summary>
    int Workers { get; }

    /// <summary>s, the number of stragglers any <see cref="MinResponders"/>-subset tolerates; 0 ≤ s &lt; n.</summary>
    int Stragglers { get; }

    /// <summary>
    /// k, the number of data partitions (columns of B): k = n, except for the heterogeneous code, whose partitions are
    /// the pieces its groups' boundaries cut the data into (k ≤ n − s).
    /// </summary>
    int Partitions { get; }

    /// <summary>
    /// Relative sizes of the k partitions: the data set is split so that partition j gets about
    /// rows · w_j / Σ w rows (<see cref="Data.DataPartitioner.Partition(int, IReadOnlyList{double})"/>). All equal except
    /// for proportional and heterogeneous assignments, where a faster worker's partitions are larger.
    /// </summary>
    IReadOnlyList<double> PartitionWeights { get; }

    /// <summary>n − s: every responder set of this size decodes.</summary>
    int MinResponders { get; }

    /// <summary>B[worker, partition]; exactly 0 where the worker does not hold the partition.</summary>
    double this[int worker, int partition] { get; }

    /// <summary>Partitions worker holds (nonzero columns of its row of B), ascending.</summary>
    IReadOnlyList<int> PartitionsOf(int worker);

    /// <summary>True when B[worker, partition] ≠ 0.</summary>
    bool IsAssigned(int worker, int partition);

    /// <summary>
    /// Decoding weights for the given responders (distinct worker ids, any order), aligned with
    /// <paramref name="responders"/>; not decodable (with a reason) when no exact combination exists.
    /// </summary>
    /// <exception cref="ArgumentException">A worker id is out of range or repeated.</exception>
    DecodeResult Decode(IReadOnlyList<int> responders);
}
