using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>A <c>gpups server</c> process on a free loopback port, for the tests that run the real programs.</summary>
public static class ServerProcess
{
    /// <summary>
    /// Starts <c>gpups server --urls http://127.0.0.1:0 ARGS</c> with <paramref name="token"/> and waits until it listens;
    /// returns the process (kill it by disposing) and its address.
    /// </summary>
    public static async Task<(ChildProcess Process, string Address)> StartAsync(IReadOnlyList<string> args, JobToken token, CancellationToken ct)
    {
        var server = ChildProcess.Start("server", ["server", "--urls", "http://127.0.0.1:0", .. args], token, Log.Logger);
        try
        {
            return (server, await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the shard at <paramref name="address"/> has reached <paramref name="step"/> (polls its status).</summary>
    public static async Task WaitForStepAsync(string address, JobToken token, long step, CancellationToken ct)
    {
        await using var observer = new GrpcShardClient(address, JobAuth.WithToken(token));
        while ((await observer.StatusAsync(ct)).Step < step) await Task.Delay(10, ct);
    }
}
