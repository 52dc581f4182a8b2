using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Worker.Transport;

/// <summary>What a fused push-then-pull (<see cref="ITensorChannel.PushPullAsync"/>) brought back.</summary>
/// <param name="Push">The push's outcome, as a separate push would have answered.</param>
/// <param name="PushAnsweredAt">When the push's answer arrived (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>):
/// the rest of the call was the pull's wait, which a step's timeline counts as pull.</param>
/// <param name="Pull">The pull's result, its parameters in the destination; null when there was none (the push was not
/// applied, the plane cannot fuse, or the server could not answer the pull part): the caller pulls separately.</param>
public readonly record struct FusedPushPull(PushOutcome Push, long PushAnsweredAt, PullResult? Pull);
