using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// A user-space link delay (netem does not exist here): a TCP forwarder that hands each chunk it reads on to the other
/// side <c>delay</c> after it arrived, in both directions, without limiting the rate (chunks are pipelined: up to 16 MiB
/// per direction in flight, above 1 Gbit/s × 100 ms). Byte-transparent (HTTP/2, the framed data plane).
/// </summary>
/// <remarks>
/// Usage: <c>await using var proxy = DelayProxy.Start(listen, target, TimeSpan.FromMilliseconds(0.5));</c> then connect to
/// <c>listen</c>. Each direction's writer is its own thread that sleeps in the kernel until the next chunk is due
/// (<c>clock_nanosleep</c> on an absolute deadline: ~60 µs late on this machine, never early). It used to spin the
/// sub-millisecond rest (<see cref="PreciseDelay"/>): a streaming transfer's next chunk is always less than the delay
/// away, so every busy direction kept a core spinning, and eight pushes at once took the 2-core machine's CPU from the
/// servers and workers whose link the benchmark measures (<c>bench network --delay-ms</c> prints the proxy measured
/// alone: <see cref="DelayProbe"/>).
/// </remarks>
public sealed class DelayProxy : TcpForwarder
{
    private const int ChunkBytes = 64 << 10;
    private const int ChunksInFlight = 256;
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;

    private DelayProxy(IPEndPoint listen, IPEndPoint target, TimeSpan delay) : base(listen)
    {
        (_target, _delay) = (target, delay);
        StartAccepting();
    }

    /// <summary>Forwards connections to <paramref name="listen"/> on to <paramref name="target"/>, each way <paramref name="delay"/> late.</summary>
    public static DelayProxy Start(IPEndPoint listen, IPEndPoint target, TimeSpan delay) => new(listen, target, delay);

    /// <inheritdoc />
    protected override async Task ForwardAsync(Socket client)
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var _ = client;
        client.NoDelay = true;
        try
        {
            await server.ConnectAsync(_target, Stopping.Token).ConfigureAwait(false);
            await Task.WhenAll(PumpAsync(client, server), PumpAsync(server, client)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    /// <summary>One direction: a reader stamps each chunk with its due time, a writer thread sends it then.</summary>
    private async Task PumpAsync(Socket from, Socket to)
    {
        var chunks = Channel.CreateBounded<(byte[] Bytes, int Length, long Due)>(new BoundedChannelOptions(ChunksInFlight) { SingleReader = true, SingleWriter = true });
        long delayTicks = (long)Math.Ceiling(_delay.TotalSeconds * Stopwatch.Frequency);
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() => Write(chunks.Reader, to, written)) { IsBackground = true, Name = "delay proxy writer" }.Start();
        try
        {
            while (true)
            {
                var bytes = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                int read = await from.ReceiveAsync(bytes, SocketFlags.None, Stopping.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                    break;
                }
                await chunks.Writer.WriteAsync((bytes, read, Stopwatch.GetTimestamp() + delayTicks), Stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        chunks.Writer.TryComplete();
        await written.Task.ConfigureAwait(false);
    }

    /// <summary>The writer thread: sends each chunk once it is due, sleeping until then; ends the direction with the chunks.</summary>
    private void Write(ChannelReader<(byte[] Bytes, int Length, long Due)> chunks, Socket to, TaskCompletionSource written)
    {
        try
        {
            while (chunks.WaitToReadAsync(Stopping.Token).AsTask().GetAwaiter().GetResult())
            {
                while (chunks.TryRead(out var chunk))
                {
                    MonotonicSleep.Until(chunk.Due);
                    to.Send(chunk.Bytes.AsSpan(0, chunk.Length));
                    ArrayPool<byte>.Shared.Return(chunk.Bytes);
                }
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            written.TrySetResult();
        }
    }
}
