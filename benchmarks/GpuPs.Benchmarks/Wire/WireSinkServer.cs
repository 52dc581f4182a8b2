using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GpuPs.Core.Security;
using GpuPs.Protocol.Frames;
using GpuPs.Server;
using Serilog;

namespace GpuPs.Benchmarks.Wire;

/// <summary>
/// The server side of the wire benchmark, run in its own process (<c>gpups bench wire --serve</c>): a sink shard of one
/// tensor size behind gRPC and the framed TCP data plane (one <see cref="GpuPsServerHost"/>), the same with
/// <c>--frame-checksum none</c> (a second host: large payloads unhashed), the same behind TLS (a third host on https://,
/// its data plane TLS too), and the raw-socket reference beside them, plain and over TLS.
/// <see cref="Url"/> names them all for the client, with the certificate it is to trust.
/// </summary>
public sealed class WireSinkServer : IAsyncDisposable
{
    private readonly GpuPsServerHost _host;
    private readonly GpuPsServerHost _tlsHost;
    private readonly GpuPsServerHost _noCheckHost;
    private readonly RawSocketSink _raw;
    private readonly RawSocketSink _rawTls;
    private readonly X509Certificate2 _certificate;

    private WireSinkServer(GpuPsServerHost host, GpuPsServerHost noCheckHost, GpuPsServerHost tlsHost, RawSocketSink raw, RawSocketSink rawTls,
        X509Certificate2 certificate) =>
        (_host, _noCheckHost, _tlsHost, _raw, _rawTls, _certificate) = (host, noCheckHost, tlsHost, raw, rawTls, certificate);

    /// <summary>
    /// The plaintext gRPC address with the other servers as a query: the raw socket's port, the unchecked host's gRPC port,
    /// the TLS host's port, the raw TLS socket's port and the (self-signed, public) certificate in hex, e.g.
    /// <c>http://127.0.0.1:5000/?raw=5001&amp;nocheck=5004&amp;https=5002&amp;rawtls=5003&amp;cert=3082…</c>; the data planes' ports come with registration.
    /// </summary>
    public string Url => $"{_host.Address}?raw={_raw.Port}&nocheck={_noCheckHost.Address.Port}&https={_tlsHost.Address.Port}&rawtls={_rawTls.Port}" +
        $"&cert={Convert.ToHexString(_certificate.RawData)}";

    /// <summary>Starts the servers on loopback for tensors of <paramref name="floats"/> values.</summary>
    public static async Task<WireSinkServer> StartAsync(int floats, JobAuth auth, ILogger log, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floats, 1);
        var certificate = LoopbackCertificate();
        var host = await GpuPsServerHost.StartAsync(new WireSinkShard(floats), "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth, ServerLimits.Default, log, ct);
        var noCheckHost = await GpuPsServerHost.StartAsync(new WireSinkShard(floats), "http://127.0.0.1:0", "tcp://127.0.0.1:0", auth,
            ServerLimits.Default with { FrameChecksum = FrameChecksum.None }, log, ct);
        var tlsHost = await GpuPsServerHost.StartAsync(new WireSinkShard(floats), "https://127.0.0.1:0", "tcp://127.0.0.1:0",
            auth.WithTls(new TlsCredentials(certificate, null)), ServerLimits.Default, log, ct);
        return new WireSinkServer(host, noCheckHost, tlsHost, RawSocketSink.Start(), RawSocketSink.Start(certificate), certificate);
    }

    /// <summary>A self-signed ECDSA P-256 certificate for 127.0.0.1, valid for a day: the client trusts it as its own authority.</summary>
    private static X509Certificate2 LoopbackCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=gpups bench wire", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    public async ValueTask DisposeAsync()
    {
        await _raw.DisposeAsync();
        await _rawTls.DisposeAsync();
        await _host.DisposeAsync();
        await _tlsHost.DisposeAsync();
        await _noCheckHost.DisposeAsync();
        _certificate.Dispose();
    }
}
