using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// One consistency mode, whole: the rule the server's shard applies (<see cref="CreateAggregator"/>), the rule a worker
/// follows when it turns its partitions into pushes (<see cref="CreatePushPolicy"/>), and the facts both sides and the
/// job validation need. One file per mode; <see cref="SyncModes"/> lists them. A new mode is a new file and a line there.
/// </summary>
public interface ISyncMode
{
    /// <summary>The mode's identifier on the wire and in configuration.</summary>
    SyncMode Mode { get; }

    /// <summary>The name users type (<c>--mode</c>): bsp, backup, coded, multi-message, ssp, asp.</summary>
    string Name { get; }

    /// <summary>
    /// Steps close for all workers at once (BSP, backup, coded, multi-message): a worker pulls step t's parameters, and a
    /// pull that returns a later step tells it that its step closed without it. False for ASP/SSP, whose workers each
    /// run their own clock and whose every push is an update.
    /// </summary>
    bool IsStepSynchronous { get; }

    /// <summary>The job's straggler count s means something to this mode (backup, coded, multi-message).</summary>
    bool ToleratesStragglers { get; }

    /// <summary>A worker that (re)registers resumes at the shard's step rather than at its own clock (BSP).</summary>
    bool ResumesAtShardStep { get; }

    /// <summary>
    /// Pushes may travel rounded (bfloat16 with error feedback) without breaking the mode's promise. False for coded mode:
    /// its decode is exact only for the vectors the workers encoded, and decode weights would amplify the rounding.
    /// </summary>
    bool AcceptsRoundedPushes { get; }

    /// <summary>
    /// The shard may close each key range of a step on its own (<see cref="TrainingJob.PieceFloats"/>): the rule that
    /// decides a step is the same for every range and needs nothing but that range's pushes (BSP: every expected worker).
    /// False where the set of pushes that makes a step is chosen once for the whole step (coded: the first decodable set;
    /// backup: the first n − s; a range could otherwise close with another set than its neighbour) or where there is no
    /// common step (asp, ssp).
    /// </summary>
    bool ClosesPerRange { get; }

    /// <summary>What a node aggregator may combine of one node's pushes (hierarchical aggregation).</summary>
    PushCombining Combining { get; }

    /// <summary>Data partitions each worker computes per step: s + 1 where the mode replicates data (coded, multi-message), else 1.</summary>
    int PartitionsPerWorker(int stragglers);

    /// <summary>Responders the shard may have to wait for in a step, at worst (n for BSP, n − s for backup and coded).</summary>
    int WorstCaseResponders(int workers, int stragglers);

    /// <summary>Which partitions each worker computes: the job's gradient code, or one partition per worker.</summary>
    IGradientCode Assignment(TrainingJob job);

    /// <summary>
    /// The mode can share work in proportion to measured speed (<c>--assignment proportional</c>): it has a step
    /// boundary to reassign at and one share per worker (BSP, backup: partitions by speed; coded: the heterogeneity-aware
    /// code). False for ASP/SSP (no common step) and multi-message (its per-partition messages need equal replicas).
    /// </summary>
    bool AssignsBySpeed { get; }

    /// <summary>
    /// The assignment for workers of the given (clamped) speeds: the pure function the coordinator and every worker apply
    /// to the same published speeds. Only for modes that <see cref="AssignsBySpeed"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The mode does not assign by speed.</exception>
    IGradientCode Assignment(TrainingJob job, IReadOnlyList<double> speeds);

    /// <summary>The shard-side rule over <paramref name="workers"/>' pushes to <paramref name="model"/>.</summary>
    IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log);

    /// <summary>The worker-side rule: what worker <paramref name="workerId"/> pushes for the partitions of <paramref name="plan"/>.</summary>
    IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId);
}
