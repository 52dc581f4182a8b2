using GpuPs.Core.Coding;
using GpuPs.Core.Data;

namespace GpuPs.Core.Training;

/// <summary>
/// The data partitions one worker computes on: the training set split into k contiguous partitions (k = n), of which
/// the worker holds those its code row names, loaded back to back onto the device. Per step, each partition contributes
/// a batch of rows that walks through it cyclically (the whole partition when the batch size is 0).
/// </summary>
public sealed class PartitionPlan
{
    private readonly int[] _localStart;   // first row of held partition h in the worker's device data
    private readonly int[] _rows;         // rows of held partition h
    private readonly int _batchSize;

    /// <summary>
    /// Splits <paramref name="train"/> into <c>code.Partitions</c> contiguous partitions and copies the rows of those
    /// that worker <paramref name="workerId"/> holds into <see cref="Data"/>.
    /// </summary>
    /// <param name="train">The shuffled, standardised training rows, identical on every worker.</param>
    /// <param name="code">The job's assignment: which partitions each worker holds, with which weights.</param>
    /// <param name="workerId">Row of <paramref name="code"/> this plan is for, 0..n-1.</param>
    /// <param name="batchSize">Rows each partition contributes per step; 0 or more than it holds: all of them.</param>
    /// <exception cref="ArgumentException">The training set has fewer rows than there are partitions.</exception>
    public PartitionPlan(Dataset train, IGradientCode code, int workerId, int batchSize)
    {
        var ranges = DataPartitioner.Partition(train.Rows, code.Partitions);
        Held = code.PartitionsOf(workerId);
        Weights = Held.Select(j => (float)code[workerId, j]).ToArray();
        _batchSize = batchSize;
        _localStart = new int[Held.Count];
        _rows = new int[Held.Count];
        var rows = new List<int>();
        for (int h = 0; h < Held.Count; h++)
        {
            var r = ranges[Held[h]];
            _localStart[h] = rows.Count;
            _rows[h] = r.Count;
            rows.AddRange(Enumerable.Range(r.Start, r.Count));
        }
        Data = train.Select(rows.ToArray(), $"{train.Name} partitions {string.Join(",", Held)}");
        StepRows = ranges.Sum(r => BatchRows(r.Count));
    }

    /// <summary>Partition ids held, ascending (the nonzero columns of the worker's row of B).</summary>
    public IReadOnlyList<int> Held { get; }

    /// <summary>B[worker, Held[h]]: the encoding weight of each held partition.</summary>
    public float[] Weights { get; }

    /// <summary>The held partitions' rows, to load onto the device.</summary>
    public Dataset Data { get; }

    /// <summary>Rows of one step summed over ALL k partitions: the row count of the full gradient a coded push encodes.</summary>
    public long StepRows { get; }

    /// <summary>Rows held partition <paramref name="h"/> contributes per step.</summary>
    public int BatchRowsOf(int h) => BatchRows(_rows[h]);

    /// <summary>
    /// The device row ranges of held partition <paramref name="h"/>'s batch at <paramref name="step"/>: one range, or two
    /// when the batch wraps around the end of the partition.
    /// </summary>
    public IEnumerable<RowRange> Batch(int h, long step)
    {
        int rows = _rows[h], count = BatchRows(rows);
        int start = (int)(step * count % rows);
        int first = Math.Min(count, rows - start);
        yield return new RowRange(_localStart[h] + start, first);
        if (first < count) yield return new RowRange(_localStart[h], count - first);
    }

    private int BatchRows(int partitionRows) => _batchSize <= 0 ? partitionRows : Math.Min(_batchSize, partitionRows);
}
