using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Modes;

/// <summary>
/// What most modes share, so that a mode's file holds only what makes it different: one partition per worker (no data
/// replication), every worker waited for at worst, a plain gradient sum pushed once per step, and a rejoining worker
/// resuming at its own clock. A mode overrides what it does otherwise and supplies its shard-side rule.
/// </summary>
/// <param name="mode">The mode's identifier on the wire and in configuration.</param>
/// <param name="name">The name users type.</param>
/// <param name="isStepSynchronous">See <see cref="ISyncMode.IsStepSynchronous"/>.</param>
/// <param name="toleratesStragglers">See <see cref="ISyncMode.ToleratesStragglers"/>.</param>
public abstract class SyncModeBase(SyncMode mode, string name, bool isStepSynchronous, bool toleratesStragglers) : ISyncMode
{
    /// <inheritdoc />
    public SyncMode Mode => mode;

    /// <inheritdoc />
    public string Name => name;

    /// <inheritdoc />
    public bool IsStepSynchronous => isStepSynchronous;

    /// <inheritdoc />
    public bool ToleratesStragglers => toleratesStragglers;

    /// <inheritdoc />
    public virtual bool ResumesAtShardStep => false;

    /// <inheritdoc />
    public virtual bool AcceptsRoundedPushes => true;

    /// <inheritdoc />
    public virtual bool ClosesPerRange => false;

    /// <inheritdoc />
    public virtual PushCombining Combining => PushCombining.None;

    /// <inheritdoc />
    public virtual int PartitionsPerWorker(int stragglers) => 1;

    /// <inheritdoc />
    public virtual int WorstCaseResponders(int workers, int stragglers) => workers;

    /// <inheritdoc />
    public virtual IGradientCode Assignment(TrainingJob job) => new UncodedAssignment(job.Workers);

    /// <inheritdoc />
    public virtual bool AssignsBySpeed => false;

    /// <inheritdoc />
    public virtual IGradientCode Assignment(TrainingJob job, IReadOnlyList<double> speeds) => AssignsBySpeed
        ? new UncodedAssignment(speeds)
        : throw new InvalidOperationException($"the {Name} mode assigns uniformly, not by speed");

    /// <inheritdoc />
    public abstract IStepAggregator CreateAggregator(ShardModel model, WorkerSlot[] workers, TrainingJob job, ILogger log);

    /// <inheritdoc />
    public virtual IWorkerPushPolicy CreatePushPolicy(PartitionPlan plan, int workerId) => StepSumPushPolicy.Plain(plan, workerId);

    /// <summary>The gradient code a coded or multi-message job names ("auto": fractional where (s+1) | n, else cyclic).</summary>
    protected static IGradientCode JobCode(TrainingJob job) =>
        GradientCodeFactory.Create(job.Code, job.Workers, job.Stragglers);
}
