using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Server;

/// <summary>
/// One parameter shard and its aggregation state: the domain object behind a transport (the gRPC service is one).
/// All members are thread-safe. A malformed request throws <see cref="ShardException"/> and changes nothing.
/// </summary>
public interface IParameterShard
{
    /// <summary>The key range this shard owns (offset, length) and its place among the shards (index, count).</summary>
    ShardInfo Info { get; }

    /// <summary>
    /// Admits a worker, or re-admits one (a restart, a retried call); the reply carries its id, the job, this shard and
    /// the step to resume at. Throws <see cref="ShardException"/>: InvalidRequest (id out of range), SlotTaken (a live
    /// client holds the id) or JobFull.
    /// </summary>
    RegisterReply Register(RegisterRequest request);

    /// <summary>
    /// Completes when <paramref name="workerId"/> may read the parameters for the pull with <paramref name="minStep"/>,
    /// by the mode's rule (the shard's step is at least <paramref name="minStep"/>; SSP also bounds the worker's lead),
    /// or at once when the job has finished. The call counts as a sign of life from the worker.
    /// </summary>
    Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="WaitForStepAsync"/> for a pull of one piece of the shard (offsets within it): on a shard that closes
    /// per range (<see cref="ClosingRanges"/>) it completes once every range the piece overlaps reached
    /// <paramref name="minStep"/>, while other ranges may still wait for pushes; otherwise as <see cref="WaitForStepAsync"/>.
    /// </summary>
    Task WaitForPieceAsync(int workerId, long minStep, PieceRange piece, CancellationToken cancellationToken) =>
        WaitForStepAsync(workerId, minStep, cancellationToken);

    /// <summary>
    /// The key ranges (within the shard) this shard closes one by one (<c>Core.Scheduling.ClosingRanges</c>): pushes
    /// come as pieces of exactly these ranges, each taken as it arrives. Null: the shard closes whole steps, and pieces
    /// are gathered into whole pushes first.
    /// </summary>
    IReadOnlyList<PieceRange>? ClosingRanges => null;

    /// <summary>
    /// Says that a pull of <paramref name="workerId"/> which passed <see cref="WaitForStepAsync"/> has been handed to the
    /// socket, or failed: a round-robin coordinator then starts the next worker's pull. Every edge calls it once per such
    /// pull; the default does nothing.
    /// </summary>
    void PullSent(int workerId) { }

    /// <summary>Copies the shard's parameters (length <c>Info.Length</c>) into <paramref name="destination"/>, atomically with the step returned.</summary>
    PullResult CopyParameters(Span<float> destination);

    /// <summary>
    /// Copies what worker <paramref name="workerId"/>'s pull carries into <paramref name="destination"/> (the shard's
    /// length): in a job with compressed pulls, the delta to the worker's copy of version <paramref name="viewVersion"/>
    /// or the parameters in full, as <see cref="PullResult.Encoding"/> says; otherwise the parameters, as
    /// <see cref="CopyParameters(Span{float})"/>.
    /// </summary>
    PullResult CopyForPull(int workerId, long viewVersion, Span<float> destination) => CopyParameters(destination);

    /// <summary>
    /// Whether every worker's whole pull of step m is answered, once the shard reached m, with the values
    /// <see cref="CopyParameters(Span{float})"/> copies: no compressed per-worker copies, no staleness bound, no pull turns.
    /// Then the data plane answers a step's waiting pulls from one copy (<c>ParkedPulls</c>). False unless a shard says so.
    /// </summary>
    bool SharedStepPulls => false;

    /// <summary>
    /// Copies one piece of the shard's parameters, <c>[offset, offset + destination.Length)</c> within the shard, into
    /// <paramref name="destination"/>, atomically with the step returned; the result's offset is the piece's first key in
    /// the full vector. Throws <see cref="ShardException"/> (InvalidRequest) for a range outside the shard. The default
    /// copies the whole shard through a pooled buffer; <see cref="ParameterShard"/> copies the piece alone.
    /// </summary>
    PullResult CopyParameters(int offset, Span<float> destination)
    {
        new PieceRange(offset, destination.Length).Validate((int)Info.Length);
        var whole = System.Buffers.ArrayPool<float>.Shared.Rent((int)Info.Length);
        try
        {
            var result = CopyParameters(whole.AsSpan(0, (int)Info.Length));
            whole.AsSpan(offset, destination.Length).CopyTo(destination);
            return result with { Offset = result.Offset + offset, Length = destination.Length };
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(whole);
        }
    }

    /// <summary>
    /// Answers a push from its header alone, as soon as its first chunk arrives, so that a push the shard would refuse
    /// anyway (a straggler's push for a closed step, an unknown worker) is refused before its tensor crosses the network.
    /// Applied (not closed) means admissible.
    /// </summary>
    PushOutcome Admit(in PushHeader header);

    /// <summary>
    /// Waits for the push with <paramref name="header"/> to get its turn on the shard's link, before the shard reads it:
    /// a round-robin job lets at most its push concurrency of pushes hold a turn at a time, in the coordinator's order
    /// (<see cref="Coordination.PushTurns"/>); a push that comes outside its turn (its worker did not ask with
    /// <see cref="AwaitPushTurnAsync"/>) is held here, its bytes left in the socket — delayed, not refused. Every edge
    /// (gRPC, the data plane) calls it on a push's header, and ends the returned lease however the push ends
    /// (<see cref="Coordination.PushTurnLease.End"/>), so that no turn outlives its push. Completes at once with
    /// <see cref="Coordination.PushTurnLease.None"/> without a schedule.
    /// </summary>
    Task<Coordination.PushTurnLease> WaitForSlotAsync(PushHeader header, CancellationToken cancellationToken) => Task.FromResult(Coordination.PushTurnLease.None);

    /// <summary>
    /// A worker's request for its push turn before it sends a byte of the push (the <c>AwaitPushTurn</c> call): completes
    /// when the push may be sent (it then holds the turn until the shard has it), or when its step (or range) closed
    /// without it (<c>closed</c>: the worker sends nothing). Granted at once without a schedule.
    /// </summary>
    Task<PushTurnReply> AwaitPushTurnAsync(PushTurnRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new PushTurnReply { Granted = true, Step = request.Step });

    /// <summary>
    /// Validates and aggregates one pushed gradient sum (length <c>Info.Length</c>, or the piece's on a shard with
    /// <see cref="ClosingRanges"/>).
    /// </summary>
    PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum);

    /// <summary>
    /// <see cref="Push"/> for a shard that answers later (a node aggregator waits for its node's other workers and its own
    /// upstream push); <paramref name="gradientSum"/> stays unchanged until the task completes. The gRPC edge calls this.
    /// </summary>
    ValueTask<PushOutcome> PushAsync(PushHeader header, ReadOnlyMemory<float> gradientSum, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Push(header, gradientSum.Span));

    /// <summary>
    /// Records that the worker is alive (an evicted worker is re-admitted); the reply carries the shard's step and
    /// whether the job has finished. Throws <see cref="ShardException"/> (UnknownWorker) for a worker that never
    /// registered.
    /// </summary>
    HeartbeatReply Heartbeat(HeartbeatRequest request);

    /// <summary>A consistent snapshot of the shard's progress, membership and counters, for monitoring.</summary>
    StatusReply Status();
}
