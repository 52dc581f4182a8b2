namespace GpuPs.Worker.Transport;

/// <summary>
/// Both planes to one shard, as a <see cref="ShardedParameterClient"/> uses them. The planes may be one object (gRPC
/// serves both) or two (tensors over a faster data plane, control over gRPC); disposing the connection disposes each
/// distinct plane once.
/// </summary>
/// <param name="Address">Where the shard is, for messages.</param>
public sealed class ShardConnection(string address, IShardControl control, ITensorChannel tensors) : IAsyncDisposable
{
    public string Address { get; } = address;
    public IShardControl Control { get; } = control;
    public ITensorChannel Tensors { get; } = tensors;

    public async ValueTask DisposeAsync()
    {
        if (Control is IAsyncDisposable c) await c.DisposeAsync().ConfigureAwait(false);
        if (!ReferenceEquals(Tensors, Control) && Tensors is IAsyncDisposable t) await t.DisposeAsync().ConfigureAwait(false);
    }
}
