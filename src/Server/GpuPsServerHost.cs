using GpuPs.Core.Security;
using GpuPs.Protocol;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using GpuPs.Server.DataPlane;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;

namespace GpuPs.Server;

/// <summary>
/// A running Kestrel server that exposes one <see cref="IParameterShard"/> through <see cref="ParameterServerService"/>
/// over cleartext HTTP/2 (h2c) on an <c>http://</c> URL or over TLS on an <c>https://</c> one (with the certificate of
/// <see cref="JobAuth.Tls"/>, and mutual TLS when it names an authority), every call checked against the job's token
/// unless the caller chose <see cref="JobAuth.Insecure"/>. The caller owns the process: the host installs no Ctrl+C or
/// SIGTERM handler.
/// </summary>
/// <remarks>
/// Usage: <c>await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", JobAuth.WithToken(token), log, ct);</c>
/// then connect workers (with the same token) to <see cref="Address"/>. <see cref="StopAsync"/> and <see cref="DisposeAsync"/> may be called from any thread.
/// </remarks>
public sealed class GpuPsServerHost : IAsyncDisposable
{
    // Kestrel's HTTP/2 defaults (1 MiB connection / 768 KiB stream windows, 16 KiB frames) make a 4 MiB push wait for
    // WINDOW_UPDATEs several times per message; windows larger than a whole tensor let a push stream in without stalls.
    // The frame size only matters for clients that send large frames: SocketsHttpHandler always sends 16 KiB frames,
    // which is what bounds .NET pushes (~300 MB/s measured).
    private const int ConnectionWindowBytes = 64 << 20;
    private const int StreamWindowBytes = 32 << 20;
    private const int MaxFrameBytes = 1 << 20;

    // Graceful stop waits for in-flight calls; a pull blocked on a step that never comes would hold it for the whole
    // default 30 s, so cut it short.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly DataPlaneListener? _dataPlane;
    private int _stopped;

    private GpuPsServerHost(WebApplication app, Uri address, DataPlaneListener? dataPlane)
    {
        _app = app;
        Address = address;
        _dataPlane = dataPlane;
        DataPort = dataPlane?.Port ?? 0;
    }

    /// <summary>The address the server listens on, with the real port when port 0 was requested.</summary>
    public Uri Address { get; }

    /// <summary>The port of the framed TCP data plane (the real one when port 0 was requested); 0 when there is none.</summary>
    public int DataPort { get; }

    /// <summary>
    /// Builds and starts the server for <paramref name="shard"/> on <paramref name="url"/> (for example <c>http://127.0.0.1:0</c>
    /// for a free port; Kestrel refuses port 0 with <c>localhost</c>), with the default <see cref="ServerLimits"/>. With a
    /// token in <paramref name="auth"/>, every call without it is refused (UNAUTHENTICATED); <see cref="JobAuth.Insecure"/>
    /// accepts any caller and logs a warning saying so. Completes once the server is listening.
    /// </summary>
    public static Task<GpuPsServerHost> StartAsync(IParameterShard shard, string url, JobAuth auth, Serilog.ILogger log, CancellationToken ct) =>
        StartAsync(shard, url, auth, ServerLimits.Default, log, ct);

    /// <summary>As <see cref="StartAsync(IParameterShard, string, JobAuth, Serilog.ILogger, CancellationToken)"/>, with <paramref name="limits"/>.</summary>
    /// <exception cref="ArgumentException">A limit is out of range (<see cref="ServerLimits.Validate"/>); an <c>https://</c>
    /// URL without a certificate in <see cref="JobAuth.Tls"/>, or a certificate with an <c>http://</c> URL.</exception>
    public static Task<GpuPsServerHost> StartAsync(IParameterShard shard, string url, JobAuth auth, ServerLimits limits, Serilog.ILogger log, CancellationToken ct) =>
        StartAsync(shard, url, null, auth, limits, log, ct);

    /// <summary>
    /// As <see cref="StartAsync(IParameterShard, string, JobAuth, ServerLimits, Serilog.ILogger, CancellationToken)"/>, and with
    /// <paramref name="dataUrl"/> (<c>tcp://HOST:PORT</c>, port 0 for a free one) the framed TCP data plane
    /// (<see cref="DataPlaneListener"/>) on its own socket beside the gRPC endpoint, advertised to workers in
    /// registration replies (<see cref="DataPort"/>). Null: gRPC only. On an <c>https://</c> URL the data plane is TLS
    /// too, with the same certificate and client rules, and refuses plaintext connections.
    /// </summary>
    /// <exception cref="ArgumentException">As the other overload, or <paramref name="dataUrl"/> is not a <c>tcp://</c> address.</exception>
    public static async Task<GpuPsServerHost> StartAsync(IParameterShard shard, string url, string? dataUrl, JobAuth auth, ServerLimits limits, Serilog.ILogger log,
        CancellationToken ct)
    {
        limits.Validate();
        var budget = new PushMemoryBudget(limits.MaxInflightPushBytes);
        // Pushes split into pieces, both edges; their incomplete buffers count against the push budget too.
        shard = shard as Pieces.PieceAssemblingShard ?? new Pieces.PieceAssemblingShard(shard, log, budget);
        if (limits.PushReservation(shard.Info.Length) > limits.MaxInflightPushBytes)
            throw new ArgumentException($"the in-flight push memory budget ({limits.MaxInflightPushBytes >> 20} MiB) is below one push of this shard " +
                $"({limits.PushReservation(shard.Info.Length) / (1 << 20) + 1} MiB): every push would be refused");
        var tls = ServerTls(url, auth);
        var grpcEndpoint = KestrelEndpoint.Parse(url, tls is null ? "http" : "https");
        var dataEndpoint = dataUrl is null ? null : KestrelEndpoint.Parse(dataUrl, "tcp");
        var refusals = new RefusalLog(log, TimeProvider.System);
        var advert = new DataPlaneAdvert();
        ListenOptions? grpcListen = null;
        // A pull reply carries the whole shard.
        var replyLimit = (int)Math.Min(int.MaxValue, Math.Max(4L << 20, shard.Info.Length * sizeof(float) + 1024));

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseKestrelHttpsConfiguration().ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
            if (tls is not null)
                kestrel.ConfigureHttpsDefaults(https =>
                {
                    https.ServerCertificate = tls.Certificate;
                    if (tls.Authority is null) return;
                    // Mutual TLS: a client without a certificate from the authority fails the handshake, before any call.
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = tls.Validates;
                });
            // Explicit endpoints (Kestrel ignores UseUrls once any Listen is made): gRPC, and the data plane beside it.
            kestrel.Listen(grpcEndpoint.EndPoint, listen =>
            {
                if (tls is not null) listen.UseHttps();
                grpcListen = listen;
            });
            kestrel.Limits.MaxRequestBodySize = null; // a push stream carries a whole shard
            kestrel.Limits.Http2.InitialConnectionWindowSize = ConnectionWindowBytes;
            kestrel.Limits.Http2.InitialStreamWindowSize = StreamWindowBytes;
            kestrel.Limits.Http2.MaxFrameSize = MaxFrameBytes;
            kestrel.Limits.Http2.MaxStreamsPerConnection = limits.MaxStreamsPerConnection;
            kestrel.Limits.MaxConcurrentConnections = limits.MaxConnections;
            kestrel.Limits.Http2.KeepAlivePingDelay = limits.KeepAlivePingDelay;
            kestrel.Limits.Http2.KeepAlivePingTimeout = limits.KeepAlivePingTimeout;
            kestrel.Limits.KeepAliveTimeout = limits.ConnectionIdleTimeout;
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
        });
        builder.Logging.ClearProviders()
            .AddSerilog(log)
            // Kestrel, hosting and grpc-dotnet log every request and every refused call at Information or Debug;
            // the shard logs what matters.
            .AddFilter("Microsoft", LogLevel.Warning)
            .AddFilter("Grpc", LogLevel.Warning);
        builder.Services.AddSingleton<IHostLifetime, CallerOwnedLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Services.Configure<SocketTransportOptions>(o =>
        {
            // Continuations of socket reads run on the I/O thread instead of hopping to the thread pool for every 4 KiB
            // block the transport receives: a 4 MiB push is ~1,000 such blocks. Handlers here never block (the shard's
            // lock is held for one SIMD sum at most).
            o.UnsafePreferInlineScheduling = true;
            o.WaitForDataBeforeAllocatingBuffer = false;
        });
        builder.Services.AddSingleton(shard);
        builder.Services.AddSingleton(limits);
        builder.Services.AddSingleton(refusals);
        builder.Services.AddSingleton(budget);
        builder.Services.AddSingleton(advert);
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = limits.MaxMessageBytes;
            o.MaxSendMessageSize = replyLimit;
        });

        // The standard gRPC health service (grpc.health.v1), answered without the job token so that Kubernetes' gRPC
        // probes and load balancers can ask; it tells nothing about the job. SERVING from the moment the shard listens.
        var health = new HealthServiceImpl();
        health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
        builder.Services.AddSingleton(health);

        var app = builder.Build();
        // Before gRPC reads a call's message (JobTokenGate says why).
        if (auth.Token is { } token) app.Use(new JobTokenGate(token, refusals).InvokeAsync);
        app.MapGrpcService<ParameterServerService>();
        app.MapGrpcService<HealthServiceImpl>();
        DataPlaneListener? dataPlane = null;
        if (dataEndpoint is not null)
        {
            try { dataPlane = DataPlaneListener.Start(dataEndpoint.EndPoint, shard, auth, refusals, limits, budget, log); }
            catch (System.Net.Sockets.SocketException e)
            {
                await app.DisposeAsync();
                throw new IOException($"cannot listen for the data plane on {dataUrl}: {e.Message}", e);
            }
            (advert.Port, advert.Host) = (dataPlane.Port, dataEndpoint.IsWildcard ? "" : dataEndpoint.Host);
        }
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            if (dataPlane is not null) await dataPlane.DisposeAsync();
            throw;
        }
        var address = grpcEndpoint.Bound(grpcListen!);
        if (dataPlane is not null)
            log.Information("Shard {Shard} serving the framed TCP data plane on {DataAddress}{Tls}, frame checksum {FrameChecksum}", shard.Info.Index,
                dataEndpoint!.Bound(dataPlane.Port), tls is null ? "" : " over TLS (plaintext connections refused)",
                Protocol.Frames.FrameChecksums.Name(Protocol.Frames.FrameChecksums.Policy(limits.FrameChecksum, tls is not null)));
        log.Information("Shard {Shard}/{Count} ({Length} parameters) serving gRPC on {Address} ({Security})",
            shard.Info.Index, shard.Info.Count, shard.Info.Length, address, auth.ToString());
        if (auth.IsInsecure)
            log.Warning("Shard {Shard} accepts calls WITHOUT AUTHENTICATION (insecure): anyone who can reach {Address} can join the job, push gradients and read the model",
                shard.Info.Index, address);
        return new GpuPsServerHost(app, address, dataPlane);
    }

    /// <summary>The TLS credentials an <c>https://</c> <paramref name="url"/> is served with; null for <c>http://</c>.</summary>
    private static TlsCredentials? ServerTls(string url, JobAuth auth)
    {
        bool https = url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (https && auth.Tls?.Certificate is null)
            throw new ArgumentException($"{url} is an https:// address: the server needs a certificate and its key (--tls-cert, --tls-key)");
        if (!https && auth.Tls is not null)
            throw new ArgumentException($"TLS certificates are given, yet {url} is not an https:// address");
        return https ? auth.Tls : null;
    }

    /// <summary>
    /// Stops accepting calls and waits (up to 5 s, or until <paramref name="ct"/> is cancelled) for in-flight gRPC calls;
    /// data-plane connections are closed (a frame in flight is not applied; workers retry it elsewhere or later).
    /// </summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        if (_dataPlane is not null) await _dataPlane.DisposeAsync();
        await _app.StopAsync(ct);
    }

    /// <summary>Stops the server (<see cref="StopAsync"/>, if not already stopped) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Leaves start-up and shutdown to the caller instead of hooking the console, unlike the default ConsoleLifetime.</summary>
    private sealed class CallerOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
