using System.Threading.Channels;
using GpuPs.Core.Checkpoints;
using Serilog;

namespace GpuPs.Server.Observers;

/// <summary>
/// Checkpoints a shard every <c>every</c> closed steps and when the job finishes, off the shard's lock: the observer
/// only queues a request; a background writer takes the snapshot (<see cref="ParameterShard.Checkpoint"/>, a copy under
/// the lock) and writes it atomically. Requests that arrive while a write is under way collapse into one, so a slow disk
/// skips checkpoints rather than delaying steps. <see cref="SaveNow"/> writes one at once (on SIGTERM).
/// </summary>
public sealed class ShardCheckpointer : IShardObserver, IAsyncDisposable
{
    private readonly CheckpointStore _store;
    private readonly long _every;
    private readonly ILogger _log;
    private readonly Channel<long> _requests = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly object _writing = new();
    private ParameterShard? _shard;
    private Task _writer = Task.CompletedTask;

    /// <param name="store">Where the shard's checkpoints go.</param>
    /// <param name="every">Closed steps between checkpoints (at least 1).</param>
    /// <param name="log">Where writes and failures are logged.</param>
    public ShardCheckpointer(CheckpointStore store, long every, ILogger log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        (_store, _every, _log) = (store, every, log);
    }

    /// <summary>Starts checkpointing <paramref name="shard"/> (the shard this observer was registered with).</summary>
    public void Attach(ParameterShard shard)
    {
        _shard = shard;
        _writer = Task.Run(WriteRequestedAsync);
    }

    /// <inheritdoc />
    public void OnStepClosed(in StepClosed closed)
    {
        if (closed.Step % _every == 0 || closed.JobFinished) _requests.Writer.TryWrite(closed.Step);
    }

    /// <summary>Writes a checkpoint of the shard's current state now; returns its path (null before <see cref="Attach"/>).</summary>
    public string? SaveNow()
    {
        if (_shard is null) return null;
        lock (_writing)
        {
            var checkpoint = _shard.Checkpoint();
            string path = _store.Save(checkpoint);
            _log.Information("Shard {Shard} checkpointed step {Step} to {Path}", checkpoint.Shard, checkpoint.Step, path);
            return path;
        }
    }

    /// <summary>Stops the background writer after the requests already queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteRequestedAsync()
    {
        await foreach (long _ in _requests.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try { SaveNow(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Error("Shard checkpoint to {Directory} failed: {Reason}; training goes on, the previous checkpoint stands", _store.Directory, e.Message);
            }
        }
    }
}
