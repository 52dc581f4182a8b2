using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Modes;

/// <summary>
/// One push per step: Σ_h w_h g_h over the held partitions. Plain modes push the plain sum (w = 1) counting their own
/// rows; coded mode pushes c_i = Σ_j B[i,j] g_j with its code row, counting the rows of the whole step, since that is
/// what the decoded sum covers.
/// </summary>
public sealed class StepSumPushPolicy : IWorkerPushPolicy
{
    private readonly PartitionPlan _plan;
    private readonly int _workerId;
    private readonly int? _codeRow;
    private readonly long _rows;

    private StepSumPushPolicy(PartitionPlan plan, int workerId, int? codeRow, long rows) =>
        (_plan, _workerId, _codeRow, _rows) = (plan, workerId, codeRow, rows);

    /// <summary>The plain gradient sum of the held partitions.</summary>
    public static StepSumPushPolicy Plain(PartitionPlan plan, int workerId) =>
        new(plan, workerId, codeRow: null, Enumerable.Range(0, plan.Held.Count).Sum(h => (long)plan.BatchRowsOf(h)));

    /// <summary>The coded vector of row <paramref name="workerId"/> of B.</summary>
    public static StepSumPushPolicy Coded(PartitionPlan plan, int workerId) => new(plan, workerId, codeRow: workerId, plan.StepRows);

    /// <inheritdoc />
    public bool PushesEachPartition => false;

    /// <inheritdoc />
    public float Weight(int h) => _codeRow is null ? 1f : _plan.Weights[h];

    /// <inheritdoc />
    public PushHeader Header(long step, int? h, double lossSum) => new(_workerId, step, 0, _rows, lossSum, CodeRow: _codeRow);
}
