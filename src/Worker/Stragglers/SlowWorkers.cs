namespace GpuPs.Worker.Stragglers;

/// <summary>
/// Which workers a <c>persistent</c> or <c>throttle</c> model slows: either <see cref="Count"/> workers chosen by the
/// seed (<see cref="Ids"/> null), or exactly the listed <see cref="Ids"/>. Value equality, lists compared element-wise.
/// </summary>
public sealed record SlowWorkers
{
    private readonly int[]? _ids;

    private SlowWorkers(int count, int[]? ids)
    {
        Count = count;
        _ids = ids;
    }

    /// <summary>How many workers are slow.</summary>
    public int Count { get; }

    /// <summary>The listed workers, ascending; null when the seed chooses them.</summary>
    public IReadOnlyList<int>? Ids => _ids;

    /// <summary><paramref name="count"/> workers chosen by the seed (see <see cref="Resolve"/>).</summary>
    public static SlowWorkers Seeded(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new SlowWorkers(count, null);
    }

    /// <summary>Exactly <paramref name="ids"/>, which must be distinct and non-negative (any order).</summary>
    /// <exception cref="ArgumentException">A negative or repeated id.</exception>
    public static SlowWorkers Listed(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sorted = ids.Order().ToArray();
        if (sorted.Length > 0 && sorted[0] < 0)
            throw new ArgumentException($"worker ids must be >= 0 (got {sorted[0]})", nameof(ids));
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i] == sorted[i - 1])
                throw new ArgumentException($"worker {sorted[i]} is listed twice", nameof(ids));
        return new SlowWorkers(sorted.Length, sorted);
    }

    /// <summary>
    /// The slow worker ids of a cluster of <paramref name="workers"/>, ascending. Listed ids are returned as given; a
    /// seeded choice is the first <see cref="Count"/> ids of a Fisher–Yates shuffle drawn from <paramref name="seed"/>:
    /// stable for the run, and independent of the per-step draws (a different purpose stream).
    /// </summary>
    /// <exception cref="ArgumentException">More slow workers than <paramref name="workers"/>, or a listed id ≥ it.</exception>
    public int[] Resolve(int workers, ulong seed)
    {
        if (Count > workers)
            throw new ArgumentException($"{Count} slow workers exceed the {workers} workers");
        if (_ids is not null)
            return _ids.Length > 0 && _ids[^1] >= workers
                ? throw new ArgumentException($"worker {_ids[^1]} is not one of the {workers} workers (ids 0 … {workers - 1})")
                : (int[])_ids.Clone();
        var all = Enumerable.Range(0, workers).ToArray();
        for (int i = workers - 1; i > 0; i--)
        {
            int j = SeededDraw.Below(i + 1, seed, SeededDraw.Purpose.ChooseWorkers, workers, i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var chosen = all[..Count];
        Array.Sort(chosen);
        return chosen;
    }

    /// <summary>
    /// Same <see cref="Count"/>, and either both seeded or both listing the same ids (compared element-wise).
    /// </summary>
    public bool Equals(SlowWorkers? other) =>
        other is not null && Count == other.Count
        && (_ids is null ? other._ids is null : other._ids is not null && _ids.AsSpan().SequenceEqual(other._ids));

    /// <summary>
    /// A hash of <see cref="Count"/> and the listed ids, consistent with <see cref="Equals(SlowWorkers?)"/>.
    /// </summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Count);
        foreach (var id in _ids ?? []) hash.Add(id);
        return hash.ToHashCode();
    }
}
