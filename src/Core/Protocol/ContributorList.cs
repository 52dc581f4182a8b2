namespace GpuPs.Protocol;

/// <summary>
/// The workers a node-aggregated push speaks for (<c>PushChunk.contributors</c>): distinct worker ids, the first being the
/// push's <c>worker_id</c>. Immutable, with value equality, so that two chunks of one push compare equal when they name
/// the same workers in the same order.
/// </summary>
public sealed class ContributorList : IEquatable<ContributorList>
{
    private readonly int[] _ids;

    /// <summary>The list of <paramref name="ids"/> (copied); at least one.</summary>
    /// <exception cref="ArgumentException">No id.</exception>
    public ContributorList(IEnumerable<int> ids)
    {
        _ids = ids.ToArray();
        if (_ids.Length == 0) throw new ArgumentException("a contributor list names at least one worker", nameof(ids));
    }

    /// <summary>The worker ids, in the order the aggregator sent them.</summary>
    public ReadOnlySpan<int> Ids => _ids;

    /// <summary>Number of workers named.</summary>
    public int Count => _ids.Length;

    /// <summary>The id at <paramref name="index"/>.</summary>
    public int this[int index] => _ids[index];

    /// <inheritdoc />
    public bool Equals(ContributorList? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ContributorList);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var id in _ids) hash.Add(id);
        return hash.ToHashCode();
    }

    /// <summary>The ids, comma-separated.</summary>
    public override string ToString() => string.Join(",", _ids);
}
