namespace GpuPs.Worker;

/// <summary>How a worker joins a job.</summary>
/// <param name="Servers">One address per shard, in shard order (shard i is served by Servers[i]).</param>
/// <param name="RequestedWorkerId">-1: the server assigns an id; else rejoin as this id (waiting, up to a minute, until
/// the servers have evicted a live-looking previous holder of it).</param>
/// <param name="CallTimeout">Deadline of each call; a pull waiting for stragglers is simply repeated.</param>
/// <param name="MaxRetries">Consecutive failed attempts of one call (server unreachable) before the worker gives up.</param>
/// <param name="Host">Node the worker runs on: informational at registration, and part of its client token.</param>
/// <param name="PushLogSteps">Steps of pushes kept to bring a shard restarted alone up to the others
/// (<see cref="Client.ShardedClientOptions.PushLogSteps"/>); 0: none.</param>
/// <param name="Pieces">Split pushes and pulls into pieces sent by priority under a credit; null: whole tensors.</param>
/// <param name="FusedPushPull">Where the plane and the step allow it (<see cref="StepComputation.CanFuse"/>, the TCP data
/// plane), a step's push carries the pull that follows it: one round trip per step. False: push and pull separately.</param>
/// <param name="Overlap">How compute overlaps the push (<see cref="ComputeOverlap"/>).</param>
public sealed record WorkerOptions(
    IReadOnlyList<string> Servers,
    int RequestedWorkerId = -1,
    TimeSpan? CallTimeout = null,
    int MaxRetries = 8,
    string Host = "",
    int PushLogSteps = 0,
    Scheduling.PieceOptions? Pieces = null,
    bool FusedPushPull = true,
    ComputeOverlap Overlap = ComputeOverlap.None);
