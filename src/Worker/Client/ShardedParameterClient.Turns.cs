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
    /// Turns are asked for in round-robin jobs of a step-synchronous mode, from every shard the worker pushes to directly
    /// (a node aggregator's combined push has no turn of its own).
    /// </summary>
    private void StartTurns(TrainingJob job) =>
        _turnShards = [.. _shards.Select(s => job.Schedule == PushSchedule.RoundRobin && job.Mode.IsStepSynchronous && s.Tensors is not NodeAggregatedChannel)];

    /// <summary>
    /// Waits for the turn of the push <paramref name="header"/> (of <paramref name="piece"/>, or whole) on shard
    /// <paramref name="i"/>, adding the wait to <paramref name="waited"/>[i]. Null: send it now (or the shard has no
    /// turns). Late: its step (the piece's range) closed without it, so nothing is sent. A wait longer than the call's
    /// deadline asks again; a lost shard fails as any call to it.
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
                    return reply.Granted ? null
                        : PushOutcome.Late(reply.Step, $"step {header.Step}{(piece is { } p ? $", piece {p}" : "")} closed on shard {i} before this worker's push turn");
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
