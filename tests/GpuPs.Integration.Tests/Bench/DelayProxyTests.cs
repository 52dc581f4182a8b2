using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GpuPs.Cli.Bench.Network;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// The user-space link delay is byte-transparent both ways and passes a half-close on, like a link; its writers' kernel
/// sleep never returns before the deadline (the delay is a lower bound whatever the load).
/// </summary>
public class DelayProxyTests
{
    [Fact]
    public async Task Bytes_cross_the_delay_proxy_unchanged_in_both_directions_and_a_half_close_ends_the_echo()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var target = (IPEndPoint)listener.LocalEndpoint;
        var echo = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var buffer = new byte[32 << 10];
            int read;
            while ((read = await socket.ReceiveAsync(buffer)) > 0) await socket.SendAsync(buffer.AsMemory(0, read));
            socket.Shutdown(SocketShutdown.Send);
        });
        using var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var listen = (IPEndPoint)free.LocalEndpoint;
        free.Stop();
        await using var proxy = DelayProxy.Start(listen, target, TimeSpan.FromMilliseconds(1.5));

        var sent = new byte[3 << 20];
        new Random(9).NextBytes(sent);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listen);
        var receiving = Task.Run(async () =>
        {
            using var received = new MemoryStream();
            var buffer = new byte[64 << 10];
            int read;
            while ((read = await client.ReceiveAsync(buffer)) > 0) received.Write(buffer, 0, read);
            return received.ToArray();
        });
        for (int offset = 0; offset < sent.Length; offset += 100_000)
            await client.SendAsync(sent.AsMemory(offset, Math.Min(100_000, sent.Length - offset)));
        client.Shutdown(SocketShutdown.Send);

        var back = await receiving.WaitAsync(TimeSpan.FromMinutes(1));
        await echo.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(sent.Length, back.Length);
        Assert.True(sent.AsSpan().SequenceEqual(back), "the echoed bytes differ from those sent");
    }

    [Fact]
    public void The_writers_sleep_never_returns_before_its_deadline()
    {
        for (int i = 0; i < 50; i++)
        {
            long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * (i % 5 + 1) / 10_000;   // 0.1 to 0.5 ms ahead
            MonotonicSleep.Until(deadline);
            Assert.True(Stopwatch.GetTimestamp() >= deadline, $"woke {Stopwatch.GetTimestamp() - deadline} ticks early");
        }
        MonotonicSleep.Until(Stopwatch.GetTimestamp() - 1);   // a deadline that has passed returns at once
    }
}
