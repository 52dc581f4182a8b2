namespace GpuPs.Worker.Transport;

/// <summary>
/// Both planes to one shard, as a <see cref="Client.ShardedParameterClient"/> uses them. The planes may be one object
/// (gRPC serves both) or two (tensors over a faster data plane, control over gRPC); disposing the connection disposes
/// each distinct plane once.
/// </summary>
/// <param name="address">Where the shard is, for messages.</param>
/// <param name="control">The control plane to the shard; owned by the connection from now on.</param>
/// <param name="tensors">The data plane to the shard (may be <paramref name="control"/>); owned likewise.</param>
public sealed class ShardConnection(string address, IShardControl control, ITensorChannel tensors) : IAsyncDisposable
{
    /// <summary>Where the shard is, as given at construction; for messages only.</summary>
    public string Address { get; } = address;
    /// <summary>The control plane: register, heartbeat, status.</summary>
    public IShardControl Control { get; } = control;
    /// <summary>The data plane: pulls and pushes; may be the same object as <see cref="Control"/>.</summary>
    public ITensorChannel Tensors { get; } = tensors;

    /// <summary>
    /// Disposes <see cref="Control"/>, then <see cref="Tensors"/> unless it is the same object; a plane that is not
    /// <see cref="IAsyncDisposable"/> is left as is.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Control is IAsyncDisposable c) await c.DisposeAsync().ConfigureAwait(false);
        if (!ReferenceEquals(Tensors, Control) && Tensors is IAsyncDisposable t) await t.DisposeAsync().ConfigureAwait(false);
    }
}
