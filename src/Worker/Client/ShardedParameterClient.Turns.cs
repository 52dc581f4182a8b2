using System.Diagnostics;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;

namespace GpuPs.Worker.Client;

/// <summary>Round-robin push turns: a push (or piece) is sent only once its shard granted it a turn on its link.</summary>
public sealed partial class ShardedParameterClient
{
    private bool[] _turnShards = [];   // per shard: pushes ask for a turn first
    private bool _turnsPerPush;         // ASP, SSP: a turn is of the worker's own next push, not of a step
    private int _pushOrder = -1;

    /// <summary>
    /// This worker's place in the coordinator's order (its push slot's <c>order</c>), told to every shard with each turn
    /// request so that all shards order their turns alike; -1 until the coordinator has given one (a shard then orders by id).
    /// </summary>
    public int PushOrder
    {
        get => Volatile.Read(ref _pushOrder);
        set => Volatile.Write(ref _pushOrder, value);
    }

    /// <summary>
    /// Turns are asked for in round-robin jobs, from every shard the worker pushes to directly (a node aggregator's
    /// combined push has no turn of its own); in ASP and SSP a turn is of the worker's next push (its clock).
    /// </summary>
    private void StartTurns(TrainingJob job)
    {
        _turnShards = [.. _shards.Select(s => job.Schedule == PushSchedule.RoundRobin && s.Tensors is not NodeAggregatedChannel)];
        _turnsPerPush = !job.Mode.IsStepSynchronous;
    }

    /// <summary>
    /// Waits for the turn of the push <paramref name="header"/> (of <paramref name="piece"/>, or whole) on shard
    /// <paramref name="i"/>, adding the wait to <paramref name="waited"/>[i]. Null: send it now (or the shard has no
    /// turns). Finished: the job finished there (or the worker ran all its steps), so nothing is sent. Late: its step
    /// (the piece's range) closed without it, so nothing is sent; with per-push turns Duplicate
    /// (the shard has this push already) or Refused (the worker's clock there is behind the push). A wait longer than
    /// the call's deadline asks again; a lost shard fails as any call to it.
    /// </summary>
    private async Task<PushOutcome?> TakeTurnAsync(int i, PushHeader header, PieceRange? piece, long[] waited, CancellationToken ct)
    {
        if (i >= _turnShards.Length || !_turnShards[i]) return null;
        long start = Stopwatch.GetTimestamp();
        var request = new PushTurnRequest
        {
            WorkerId = header.WorkerId, Step = header.Step, PieceOffset = piece?.Offset ?? 0, PieceLength = piece?.Length ?? 0,
            Partition = header.Partition ?? -1, Order = PushOrder,
        };
        try
        {
            while (true)
            {
                try
                {
                    var reply = await CallAsync(i, $"push turn on shard {i} at {_shards[i].Address}",
                        t => _shards[i].Control.AwaitPushTurnAsync(request, t, _options.CallTimeout), ct).ConfigureAwait(false);
                    if (reply.Granted) return null;
                    if (reply.Finished)
                        return PushOutcome.Finished(reply.Step, $"push of step {header.Step} not sent: the job has finished on shard {i}");
                    if (!_turnsPerPush)
                        return PushOutcome.Late(reply.Step, $"step {header.Step}{(piece is { } p ? $", piece {p}" : "")} closed on shard {i} before this worker's push turn");
                    return reply.Step > header.Step
                        ? PushOutcome.Duplicate(reply.Step, $"shard {i} has worker {header.WorkerId}'s push of step {header.Step} already (its clock there is {reply.Step})")
                        : PushOutcome.Refused(reply.Step, $"push of step {header.Step} refused before its turn: worker {header.WorkerId}'s clock on shard {i} is {reply.Step}");
                }
                catch (ShardException e) when (e.Kind == ShardErrorKind.Timeout && !ct.IsCancellationRequested)
                {
                    // Waiting for a turn longer than one call's deadline is no failure: the step is still open.
                }
            }
        }
        finally
        {
            Interlocked.Add(ref waited[i], Stopwatch.GetTimestamp() - start);
        }
    }
}
