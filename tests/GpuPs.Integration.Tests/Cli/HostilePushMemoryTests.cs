using System.Globalization;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Grpc.Core;
using Grpc.Net.Client;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// Issue 11, memory: a hostile client opens many push streams on many connections to a real <c>gpups server</c>, sends
/// part of a 4 MB push on each and stalls. The in-flight push budget admits what fits and refuses the rest busy, so the
/// server process's peak resident memory (VmHWM) grows by a bounded amount — not by a shard-sized buffer per stream, as
/// it did before (+452 MiB for one connection) — and every byte is given back once the streams end.
/// </summary>
public class HostilePushMemoryTests
{
    private const int Connections = 8;
    private const int StreamsPerConnection = 16;
    private const int BudgetMiB = 32;

    [Fact]
    public async Task Many_stalled_push_streams_leave_the_servers_memory_bounded_by_the_budget()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var (process, address) = await ServerProcess.StartAsync(["--dataset", "synthetic:rows=100,features=249999,classes=4", "--model", "softmax",
            "--workers", "2", "--steps", "1000", "--max-inflight-push-mb", BudgetMiB.ToString(CultureInfo.InvariantCulture), "--push-idle-timeout-ms", "3000"], token, guard.Token);
        await using var server = process;
        await using var observer = new GrpcShardClient(address, JobAuth.WithToken(token));
        var length = (int)(await observer.StatusAsync(guard.Token)).Shard.Length;
        Assert.True(length >= 1_000_000, $"shard of {length}");
        long before = PeakResidentBytes(server.ProcessId);

        var first = new float[1 << 16];    // 256 KiB
        var second = new float[1 << 18];   // 1 MiB
        var options = new CallOptions(new Metadata { { JobToken.MetadataKey, token.HeaderValue } }, DateTime.UtcNow.AddMinutes(1));
        var channels = Enumerable.Range(0, Connections).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        })).ToArray();
        var calls = channels.SelectMany(c => Enumerable.Range(0, StreamsPerConnection)
            .Select(_ => c.CreateCallInvoker().AsyncClientStreamingCall(ParameterServerMethods.Push, null, options))).ToArray();
        long admitted = ((long)BudgetMiB << 20) / (length * 4L + (4 << 20));
        // Every stream sends its first 256 KiB; once the server has refused what the budget cannot hold (its own counter,
        // not a wait of some length) and those refusals have reached the client, the streams still open send 1 MiB more
        // and stall. (Without the second wait, a refused stream whose answer was still on its way also got 1 MiB, which
        // the connection's HTTP/2 window, not the push budget, bounds: +134 MiB when the socket continuations ran on the
        // thread pool.)
        await Task.WhenAll(calls.Select(call => TryWriteAsync(call, 0, first)));
        while ((await observer.StatusAsync(guard.Token)).PushesRefusedBusy < calls.Length - admitted) await Task.Delay(20, guard.Token);
        while (calls.Count(call => call.ResponseAsync.IsCompleted) < calls.Length - admitted) await Task.Delay(20, guard.Token);
        await Task.WhenAll(calls.Where(call => !call.ResponseAsync.IsCompleted).Select(call => TryWriteAsync(call, first.Length, second)));
        var during = await observer.StatusAsync(guard.Token);
        long peak = PeakResidentBytes(server.ProcessId);

        Assert.True(during.InflightPushBytesPeak <= (long)BudgetMiB << 20, $"peak in flight {during.InflightPushBytesPeak}");
        Assert.True(during.PushesRefusedBusy >= calls.Length - admitted, $"{during.PushesRefusedBusy} refused busy");
        // Measured: +12 MiB with the 32 MiB budget, +173 MiB with a 4 GiB one (every stream admitted and its chunks held).
        Assert.True(peak - before < 128L << 20, $"peak resident memory grew by {(peak - before) >> 20} MiB");

        foreach (var call in calls) call.Dispose();
        foreach (var channel in channels) channel.Dispose();
        while ((await observer.StatusAsync(guard.Token)).InflightPushBytes != 0) await Task.Delay(20, guard.Token);
    }

    private static async Task TryWriteAsync(AsyncClientStreamingCall<PushChunkFrame, PushReply> call, int offset, float[] values)
    {
        try { await call.RequestStream.WriteAsync(new PushChunkFrame(new PushHeader(0, 0, 0, 1, 0), offset, values)); }
        catch (Exception) { }   // refused busy while writing
    }

    /// <summary>The process's peak resident set size (VmHWM in /proc/PID/status), in bytes.</summary>
    private static long PeakResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
