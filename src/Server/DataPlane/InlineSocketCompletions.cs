namespace GpuPs.Server.DataPlane;

/// <summary>
/// Lets a dedicated server process run the continuations of its socket completions on the socket engine's own thread,
/// instead of hopping to the thread pool for each (.NET's <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c>, Linux and
/// other Unix only; the gRPC edge already inlines its own continuations with Kestrel's <c>UnsafePreferInlineScheduling</c>).
/// </summary>
/// <remarks>
/// <para>Why: a 4 MiB push or pull over the data plane wakes the server tens of times (one read per socket window); every
/// wake-up that completes a read went epoll thread → thread pool → continuation, and the profile of the server's side
/// showed ~30 % of its samples in context switches and thread-pool spinning. With continuations inline, `gpups bench
/// wire` (interleaved short runs, 2-core VM, loaded) measured 20–30 % less CPU per 4 MiB operation on the data plane and
/// ~40 % more 4 MiB pull throughput (docs/benchmarks.md, "Inline socket completions on the server").</para>
/// <para>Only for processes that serve and do nothing else (<c>gpups server</c>, the wire benchmark's sink): there every
/// continuation is a connection's read loop (hashing at most one read), the shard's sum and step under its lock, or a
/// reply's write. A worker's process keeps the default, since its continuations include the gradient computation, which
/// would hold the socket thread for a whole step; so does <c>gpups train</c>, where both share one process.</para>
/// <para>The runtime reads the setting once, when the process first waits on a socket: call this before that. A value
/// the environment already sets (<c>0</c> to turn it off) wins.</para>
/// </remarks>
public static class InlineSocketCompletions
{
    /// <summary>The runtime's environment variable.</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Turns inline completions on for this process unless its environment already decides; returns whether they are on.</summary>
    public static bool PreferForThisServerProcess()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { } decided) return decided == "1";
        Environment.SetEnvironmentVariable(Variable, "1");
        return true;
    }
}
