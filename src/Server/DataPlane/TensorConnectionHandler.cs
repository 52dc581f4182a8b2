using GpuPs.Core.Security;
using Microsoft.AspNetCore.Connections;
using Serilog;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// Kestrel's entry point of the framed TCP data plane (<c>ListenOptions.UseConnectionHandler&lt;TensorConnectionHandler&gt;()</c>):
/// every accepted connection is served by its own <see cref="TensorConnection"/> until either side closes it. Connections
/// are independent: one that misbehaves or dies mid-frame is closed and logged, the others go on.
/// </summary>
/// <param name="shard">The shard every connection serves.</param>
/// <param name="auth">The job token a connection must present in its Hello frame (insecure: any).</param>
/// <param name="refusals">Where refused connections are logged, at most one line a second.</param>
/// <param name="limits">Deadlines: <see cref="ServerLimits.RequestHeadersTimeout"/> for the Hello,
/// <see cref="ServerLimits.ConnectionIdleTimeout"/> between frames, <see cref="ServerLimits.PushIdleTimeout"/> within a
/// frame and for each write.</param>
/// <param name="budget">The in-flight push memory shared with the gRPC edge: a push that does not fit is answered busy.</param>
/// <param name="log">Receives the data plane's events, tagged with the shard.</param>
public sealed class TensorConnectionHandler(IParameterShard shard, JobAuth auth, RefusalLog refusals, ServerLimits limits, PushMemoryBudget budget, ILogger log)
    : ConnectionHandler
{
    private readonly ILogger _log = log.ForContext("Shard", shard.Info.Index);

    /// <summary>Serves one connection's frames until it closes; never throws.</summary>
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        await using var served = new TensorConnection(shard, auth, refusals, limits, budget, _log, connection);
        await served.RunAsync().ConfigureAwait(false);
    }
}
