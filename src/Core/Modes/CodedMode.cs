using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// Gradient coding (Tandon et al. 2017): worker i computes the s + 1 partitions of its code row and pushes
/// c_i = Σ_j B[i,j] g_j; the shard closes the step on the first responder set that decodes, with the exact gradient.
/// </summary>
public sealed class CodedMode() : SyncModeBase(SyncMode.Coded, "coded", isStepSynchronous: true, toleratesStragglers: true)
{
    /// <inheritdoc />
    public override bool AcceptsRoundedPushes => false;

    /// <summary>Only workers with equal rows of B (a repetition group) share one pushed vector.</summary>
    public override PushCombining Combining => PushCombining.EqualCodeRows;

    /// <inheritdoc />
    public override int PartitionsPerWorker(int stragglers) => stragglers + 1;

    /// <inheritdoc />
    public override int WorstCaseResponders(int workers, int stragglers) => workers - stragglers;

    /// <summary>The job's code ("auto": fractional repetition where (s+1) | n, whose decode weights are 0/1, else cyclic).</summary>
    public override IGradientCode Assignment(TrainingJob job) => JobCode(job);

    /// <inheritdoc />
    public override bool AssignsBySpeed => true;

    /// <summary>
    /// The heterogeneity-aware code for the job's s: <see cref="OptimalHeterogeneousCode"/> when the job's code is
    /// "hetero-optimal" (falling back to the group code for speeds whose boundaries coincide so that it cannot be built,
    /// the same pure choice on every node), else the group code (<see cref="HeterogeneousRepetitionCode"/>).
    /// </summary>
    public override IGradientCode Assignment(TrainingJob job, IReadOnlyList<double> speeds)
    {
        if (!job.Code.Equals(OptimalHeterogeneousCode.FamilyName, StringComparison.OrdinalIgnoreCase))
            return new HeterogeneousRepetitionCode(speeds, job.Stragglers);
        try
        {
            return new OptimalHeterogeneousCode(speeds, job.Stragglers);
        }
        catch (ArgumentException)
        {
            return new HeterogeneousRepetitionCode(speeds, job.Stragglers);
        }
    }

    /// <inheritdoc />
    public override IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log) =>
        new CodedAggregator(model, workers, job.Steps, Assignment(job), log);

    /// <inheritdoc />
    public override IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Coded(plan, workerId);
}
