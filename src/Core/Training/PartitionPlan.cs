using GpuPs.Core.Coding;
using GpuPs.Core.Data;

namespace GpuPs.Core.Training;

/// <summary>
/// The data partitions one worker computes on: the training set split into the code's k contiguous partitions, sized by
/// its <see cref="IGradientCode.PartitionWeights"/> (equal, or in proportion to speed), of which the worker holds those
/// its code row names, loaded back to back onto the device. Per step, each partition contributes a batch of rows that
/// walks through it cyclically (the whole partition when the batch size is 0). The step's k · batch rows are shared
/// among the partitions by the same weights (each gets <c>batch</c> when they are equal), so a worker with twice the
/// data also takes twice the rows per step and every row is still weighted alike in the mean gradient.
/// </summary>
public sealed class PartitionPlan
{
    private readonly int[] _localStart;   // first row of held partition h in the worker's device data
    private readonly int[] _rows;         // rows of held partition h
    private readonly int[] _batchRows;    // rows held partition h contributes per step

    /// <summary>
    /// Splits <paramref name="train"/> into <c>code.Partitions</c> contiguous partitions and copies the rows of those
    /// that worker <paramref name="workerId"/> holds into <see cref="Data"/>.
    /// </summary>
    /// <param name="train">The shuffled, standardised training rows, identical on every worker.</param>
    /// <param name="code">The job's assignment: which partitions each worker holds, with which weights.</param>
    /// <param name="workerId">Row of <paramref name="code"/> this plan is for, 0..n-1.</param>
    /// <param name="batchSize">Rows an equal partition contributes per step (weighted partitions: in proportion to
    /// their size, at least 1); 0, or more than a partition holds: all of its rows.</param>
    /// <exception cref="ArgumentException">The training set has fewer rows than there are partitions.</exception>
    public PartitionPlan(Dataset train, IGradientCode code, int workerId, int batchSize)
    {
        var ranges = DataPartitioner.Partition(train.Rows, code.PartitionWeights);
        var batches = batchSize <= 0 ? ranges.Select(r => r.Count).ToArray()
            : DataPartitioner.Apportion(checked(batchSize * code.Partitions), code.PartitionWeights)
                .Select((b, j) => Math.Clamp(b, 1, ranges[j].Count)).ToArray();
        Held = code.PartitionsOf(workerId);
        Weights = Held.Select(j => (float)code[workerId, j]).ToArray();
        _localStart = new int[Held.Count];
        _rows = new int[Held.Count];
        _batchRows = Held.Select(j => batches[j]).ToArray();
        var rows = new List<int>();
        for (int h = 0; h < Held.Count; h++)
        {
            var r = ranges[Held[h]];
            _localStart[h] = rows.Count;
            _rows[h] = r.Count;
            rows.AddRange(Enumerable.Range(r.Start, r.Count));
        }
        Data = train.Select(rows.ToArray(), $"{train.Name} partitions {string.Join(",", Held)}");
        StepRows = batches.Sum(b => (long)b);
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
    public int BatchRowsOf(int h) => _batchRows[h];

    /// <summary>
    /// The device row ranges of held partition <paramref name="h"/>'s batch at <paramref name="step"/>: one range, or two
    /// when the batch wraps around the end of the partition.
    /// </summary>
    public IEnumerable<RowRange> Batch(int h, long step)
    {
        int rows = _rows[h], count = _batchRows[h];
        int start = (int)(step * count % rows);
        int first = Math.Min(count, rows - start);
        yield return new RowRange(_localStart[h] + start, first);
        if (first < count) yield return new RowRange(_localStart[h], count - first);
    }
}
