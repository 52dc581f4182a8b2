using System.CommandLine;
using GpuPs.Server;

namespace GpuPs.Cli.Settings;

/// <summary>The options of <c>gpups server</c> that set its <see cref="ServerLimits"/>; defaults are <see cref="ServerLimits.Default"/>.</summary>
public sealed class ServerLimitOptions
{
    private readonly List<Option> _options = [];
    private readonly List<Func<ServerLimits, ParseResult, ServerLimits>> _binders = [];

    public ServerLimitOptions(SettingSources s)
    {
        var d = ServerLimits.Default;
        Add(s, "max-message-bytes", d.MaxMessageBytes, (l, v) => l with { MaxMessageBytes = v },
            "largest request message (a push chunk and its header); larger ones are refused with RESOURCE_EXHAUSTED");
        Add(s, "max-inflight-push-mb", (int)(d.MaxInflightPushBytes >> 20), (l, v) => l with { MaxInflightPushBytes = (long)v << 20 },
            "MiB that all pushes in flight may hold together (each its shard-sized buffer and a chunk); a push beyond it is refused with RESOURCE_EXHAUSTED and retried by workers");
        Add(s, "max-connections", d.MaxConnections, (l, v) => l with { MaxConnections = v },
            "open connections accepted at once on each endpoint (gRPC, data plane); one beyond it is closed at once");
        Add(s, "max-streams-per-connection", d.MaxStreamsPerConnection, (l, v) => l with { MaxStreamsPerConnection = v },
            "calls in flight on one HTTP/2 connection");
        Add(s, "push-idle-timeout-ms", Milliseconds(d.PushIdleTimeout), (l, v) => l with { PushIdleTimeout = TimeSpan.FromMilliseconds(v) },
            "a push stream that sends no chunk for this long is dropped");
        Add(s, "connection-idle-timeout-ms", Milliseconds(d.ConnectionIdleTimeout), (l, v) => l with { ConnectionIdleTimeout = TimeSpan.FromMilliseconds(v) },
            "a connection without calls for this long is closed");
        Add(s, "request-headers-timeout-ms", Milliseconds(d.RequestHeadersTimeout), (l, v) => l with { RequestHeadersTimeout = TimeSpan.FromMilliseconds(v) },
            "time a client has to send a call's headers");
        Add(s, "keep-alive-ping-delay-ms", Milliseconds(d.KeepAlivePingDelay), (l, v) => l with { KeepAlivePingDelay = TimeSpan.FromMilliseconds(v) },
            "ping a connection silent for this long");
        Add(s, "keep-alive-ping-timeout-ms", Milliseconds(d.KeepAlivePingTimeout), (l, v) => l with { KeepAlivePingTimeout = TimeSpan.FromMilliseconds(v) },
            "close a connection that does not answer a ping within this time");
    }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in _options) command.Options.Add(o);
    }

    /// <summary>The limits as parsed.</summary>
    /// <exception cref="SettingsException">A limit is out of range.</exception>
    public ServerLimits Bind(ParseResult parse)
    {
        var limits = _binders.Aggregate(ServerLimits.Default, (l, bind) => bind(l, parse));
        try { limits.Validate(); }
        catch (ArgumentException e) { throw new SettingsException(e.Message); }
        return limits;
    }

    private static int Milliseconds(TimeSpan t) => (int)t.TotalMilliseconds;

    private void Add(SettingSources s, string name, int fallback, Func<ServerLimits, int, ServerLimits> with, string description)
    {
        var option = s.Option(name, fallback, description);
        _options.Add(option);
        _binders.Add((limits, parse) => with(limits, parse.GetValue(option)));
    }
}
