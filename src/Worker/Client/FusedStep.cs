using GpuPs.Core.Shards;

namespace GpuPs.Worker.Client;

/// <summary>The answer to a fused push-then-pull of every shard (<see cref="ShardedParameterClient.PushPullAsync"/>).</summary>
/// <param name="Outcomes">Each shard's push outcome, in shard order.</param>
/// <param name="PushAnsweredAt">When the last shard's push answer arrived (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</param>
/// <param name="Pulled">The parameters pulled in the same round trips; null when the caller must pull separately.</param>
public readonly record struct FusedStep(IReadOnlyList<PushOutcome> Outcomes, long PushAnsweredAt, PulledParameters? Pulled);
