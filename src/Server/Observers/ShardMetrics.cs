using System.Globalization;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Prometheus;

namespace GpuPs.Server.Observers;

/// <summary>
/// Prometheus series of one shard, fed by its events (an <see cref="IShardObserver"/>, so the shard knows nothing of
/// metrics): steps closed and their wall time, the step and mean loss, refused pushes by reason, and membership events.
/// Every series carries the label <c>shard</c>. Updating a series is a few atomic operations: cheap enough for the
/// shard's lock.
/// </summary>
public sealed class ShardMetrics : IShardObserver
{
    private readonly Counter.Child _steps;
    private readonly Histogram.Child _stepSeconds;
    private readonly Gauge.Child _step;
    private readonly Gauge.Child _meanLoss;
    private readonly Counter _refused;
    private readonly Counter _membership;
    private readonly string _shard;

    /// <param name="registry">Where the series live (<see cref="Metrics.DefaultRegistry"/> for the process's /metrics).</param>
    /// <param name="shard">The shard's index, the value of every series' <c>shard</c> label.</param>
    public ShardMetrics(CollectorRegistry registry, int shard)
    {
        var metrics = Metrics.WithCustomRegistry(registry);
        _shard = shard.ToString(CultureInfo.InvariantCulture);
        _steps = metrics.CreateCounter("gpups_shard_steps_total", "Steps the shard closed (updates applied or skipped).", "shard").WithLabels(_shard);
        _stepSeconds = metrics.CreateHistogram("gpups_shard_step_seconds", "Wall time from one step's close to the next.",
            new HistogramConfiguration { LabelNames = ["shard"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) }).WithLabels(_shard);
        _step = metrics.CreateGauge("gpups_shard_step", "The shard's current step.", "shard").WithLabels(_shard);
        _meanLoss = metrics.CreateGauge("gpups_shard_mean_loss", "Mean training loss reported with the last update.", "shard").WithLabels(_shard);
        _refused = metrics.CreateCounter("gpups_shard_pushes_refused_total", "Pushes not applied, by outcome (late, duplicate, finished, refused).", "shard", "outcome");
        _membership = metrics.CreateCounter("gpups_shard_membership_events_total", "Workers registered, rejoined, evicted or back.", "shard", "event");
    }

    /// <inheritdoc />
    public void OnStepClosed(in StepClosed closed)
    {
        _steps.Inc();
        _stepSeconds.Observe(closed.Duration.TotalSeconds);
        _step.Set(closed.Step);
        if (double.IsFinite(closed.MeanLoss)) _meanLoss.Set(closed.MeanLoss);
    }

    /// <inheritdoc />
    public void OnPushRefused(in PushHeader header, in PushOutcome outcome) =>
        _refused.WithLabels(_shard, outcome.Kind.ToString().ToLowerInvariant()).Inc();

    /// <inheritdoc />
    public void OnMembershipChanged(in MembershipChange change) =>
        _membership.WithLabels(_shard, change.Event.ToString().ToLowerInvariant()).Inc();
}
