using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GpuPs.Cli.Bench.Network;

/// <summary>What the delay proxy does alone, over loopback: round trips and 16 MiB transfers direct and through it.</summary>
/// <param name="DelayMs">The proxy's one-way delay.</param>
/// <param name="DirectRttUs">Median 1-byte round trip without the proxy, µs.</param>
/// <param name="ProxiedRttUs">Median 1-byte round trip through it, µs (ideally direct + 2 × the delay).</param>
/// <param name="DirectTransferMs">Median 16 MiB transfer (to the receiver's 1-byte answer) without the proxy, ms.</param>
/// <param name="ProxiedTransferMs">The same through the proxy (ideally direct + 2 × the delay: no queueing of its own).</param>
/// <param name="DirectCpuMsPerTransfer">This process's CPU time per 16 MiB transfer without the proxy, ms.</param>
/// <param name="ProxiedCpuMsPerTransfer">The same through the proxy; the difference is the proxy's cost.</param>
public sealed record DelayProbeResult(double DelayMs, double DirectRttUs, double ProxiedRttUs, double DirectTransferMs, double ProxiedTransferMs,
    double DirectCpuMsPerTransfer, double ProxiedCpuMsPerTransfer)
{
    /// <summary>One line for the benchmark's progress output.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"delay proxy alone ({DelayMs} ms each way, loopback): 1-byte round trip p50 {DirectRttUs:F0} µs direct, {ProxiedRttUs:F0} µs proxied; 16 MiB p50 {DirectTransferMs:F1} ms direct, {ProxiedTransferMs:F1} ms proxied; CPU per 16 MiB {DirectCpuMsPerTransfer:F1} ms direct, {ProxiedCpuMsPerTransfer:F1} ms proxied");
}

/// <summary>
/// Measures the <see cref="DelayProxy"/> alone, so that <c>bench network --delay-ms</c> shows whether the proxy adds
/// queueing or CPU load of its own beside the delay it is asked for: a receiver on loopback answers one byte per message,
/// and a client sends 1-byte messages (round trips) and 16 MiB messages (transfers) to it directly and through a proxy.
/// </summary>
public static class DelayProbe
{
    private const int TransferBytes = 16 << 20;
    private const int RoundTrips = 200, Transfers = 8;

    /// <summary>Runs the probe with a proxy of <paramref name="delay"/> (a few seconds).</summary>
    public static async Task<DelayProbeResult> RunAsync(TimeSpan delay, CancellationToken ct)
    {
        using var receiver = new TcpListener(IPAddress.Loopback, 0);
        receiver.Start();
        var receiverEnd = (IPEndPoint)receiver.LocalEndpoint;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var serving = ServeAsync(receiver, stop.Token);
        try
        {
            var direct = await MeasureAsync(receiverEnd, ct).ConfigureAwait(false);
            await using var proxy = DelayProxy.Start(new IPEndPoint(IPAddress.Loopback, 0), receiverEnd, delay);
            var proxied = await MeasureAsync(new IPEndPoint(IPAddress.Loopback, proxy.Port), ct).ConfigureAwait(false);
            return new DelayProbeResult(delay.TotalMilliseconds, direct.RttUs, proxied.RttUs, direct.TransferMs, proxied.TransferMs, direct.CpuMs, proxied.CpuMs);
        }
        finally
        {
            stop.Cancel();
            receiver.Stop();
            try { await serving.ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>The receiver: a 1-byte message (a round trip) or a 16 MiB one, each answered with one byte once read whole.</summary>
    private static async Task ServeAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            _ = Task.Run(async () =>
            {
                using var _ = socket;
                var buffer = new byte[1 << 20];
                var kind = new byte[1];
                try
                {
                    while (await socket.ReceiveAsync(kind, SocketFlags.None, ct).ConfigureAwait(false) == 1)
                    {
                        for (int left = kind[0] == 1 ? TransferBytes : 0; left > 0;)
                        {
                            int read = await socket.ReceiveAsync(buffer.AsMemory(0, Math.Min(left, buffer.Length)), SocketFlags.None, ct).ConfigureAwait(false);
                            if (read == 0) return;
                            left -= read;
                        }
                        await socket.SendAsync(kind, SocketFlags.None, ct).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
            }, ct);
        }
    }

    private static async Task<(double RttUs, double TransferMs, double CpuMs)> MeasureAsync(IPEndPoint target, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(target, ct).ConfigureAwait(false);
        var answer = new byte[1];
        var rtts = new double[RoundTrips];
        for (int i = 0; i < RoundTrips; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await socket.SendAsync(new byte[] { 0 }, SocketFlags.None, ct).ConfigureAwait(false);
            await ReceiveAnswerAsync(socket, answer, ct).ConfigureAwait(false);
            rtts[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        var message = new byte[TransferBytes + 1];
        message[0] = 1;
        var transfers = new double[Transfers];
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int i = 0; i < Transfers; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await socket.SendAsync(message, SocketFlags.None, ct).ConfigureAwait(false);
            await ReceiveAnswerAsync(socket, answer, ct).ConfigureAwait(false);
            transfers[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / Transfers;
        return (Median(rtts), Median(transfers), cpuMs);
    }

    private static async Task ReceiveAnswerAsync(Socket socket, byte[] answer, CancellationToken ct)
    {
        if (await socket.ReceiveAsync(answer, SocketFlags.None, ct).ConfigureAwait(false) != 1)
            throw new InvalidOperationException("the probe's receiver closed the connection");
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
