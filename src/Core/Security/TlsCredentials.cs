using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GpuPs.Core.Security;

/// <summary>
/// One side's TLS material, the same shape for a server and a worker: its own <see cref="Certificate"/> (with the private
/// key) and the <see cref="Authority"/> it trusts for its peer's certificate. A server needs a certificate, and with an
/// authority it requires every client to present a certificate that authority issued (mutual TLS). A worker needs an
/// authority to trust a server whose certificate a private CA issued (without one, the system's trust store decides),
/// and presents its certificate, if it has one, to servers that ask. The job token is still required on every call: TLS
/// hides it and the tensors from whoever watches the link, and proves the server's identity to the worker.
/// </summary>
/// <remarks>
/// Usage: <c>JobAuth.WithToken(token).WithTls(TlsCredentials.FromPemFiles("server.pem", "server.key", "ca.pem"))</c>.
/// Immutable after construction and thread-safe; <see cref="Validates"/> is called by SslStream on every handshake.
/// </remarks>
public sealed class TlsCredentials
{
    private readonly Lazy<SslStreamCertificateContext> _serverContext;

    /// <summary>Credentials from certificates already in memory.</summary>
    /// <param name="certificate">This side's certificate with its private key; null for a worker without a client certificate.</param>
    /// <param name="authority">The certificates that may root the peer's chain; null: the system's trust store.</param>
    /// <exception cref="ArgumentException"><paramref name="certificate"/> has no private key, or <paramref name="authority"/> is empty.</exception>
    public TlsCredentials(X509Certificate2? certificate, X509Certificate2Collection? authority)
    {
        if (certificate is { HasPrivateKey: false })
            throw new ArgumentException($"the certificate {certificate.Subject} comes without its private key", nameof(certificate));
        if (authority is { Count: 0 })
            throw new ArgumentException("the certificate authority holds no certificate", nameof(authority));
        Certificate = certificate;
        Authority = authority;
        // Built once: the chain a TLS server sends is resolved when the context is made, not in every handshake.
        _serverContext = new(() => SslStreamCertificateContext.Create(
            Certificate ?? throw new InvalidOperationException("TLS credentials without a certificate cannot serve TLS"), additionalCertificates: null, offline: true));
    }

    /// <summary>This side's certificate, with its private key; null when a worker presents none.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The roots trusted for the peer's certificate; null: the operating system's trust store.</summary>
    public X509Certificate2Collection? Authority { get; }

    /// <summary>
    /// Reads PEM files: a certificate (its chain may follow it in the same file) and its private key, both or neither, and
    /// an optional CA bundle.
    /// </summary>
    /// <exception cref="ArgumentException">One of certificate and key without the other; a file that is missing,
    /// unreadable or not PEM of the expected kind; a key that does not belong to the certificate. The message names the file.</exception>
    public static TlsCredentials FromPemFiles(string? certificatePath, string? keyPath, string? authorityPath)
    {
        if ((certificatePath is null) != (keyPath is null))
            throw new ArgumentException(certificatePath is null
                ? "a TLS key needs its certificate (--tls-cert)"
                : "a TLS certificate needs its private key (--tls-key)");
        X509Certificate2? certificate = null;
        if (certificatePath is not null)
            certificate = Read($"{certificatePath} (key {keyPath})", () => X509Certificate2.CreateFromPemFile(certificatePath, keyPath));
        X509Certificate2Collection? authority = null;
        if (authorityPath is not null)
        {
            authority = new X509Certificate2Collection();
            Read(authorityPath, () => { authority.ImportFromPemFile(authorityPath); return authority; });
            if (authority.Count == 0) throw new ArgumentException($"{authorityPath} holds no PEM certificate");
        }
        return new TlsCredentials(certificate, authority);
    }

    /// <summary>
    /// Whether the peer's <paramref name="certificate"/> is acceptable: with an <see cref="Authority"/>, its chain must
    /// end in one of those roots (and nothing else may be wrong, such as a host name that does not match); without one,
    /// the platform's verdict (<paramref name="errors"/>) stands. A missing certificate is never acceptable.
    /// </summary>
    public bool Validates(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (Authority is null) return errors == SslPolicyErrors.None;
        // A private root is not in the system store, so the platform reports a chain error: rebuild the chain against
        // the authority alone. Every other error (a name mismatch) still refuses.
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(Authority);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;   // private CAs here publish no revocation lists
        if (chain is not null)
            foreach (var element in chain.ChainElements.Skip(1))
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    /// <summary>
    /// How a TLS server built on <see cref="System.Net.Security.SslStream"/> (the framed TCP data plane) authenticates
    /// itself and its clients, as Kestrel does for gRPC: it presents <see cref="Certificate"/>; with an
    /// <see cref="Authority"/> it requires a client certificate that authority issued (mutual TLS), else it asks for none.
    /// </summary>
    /// <exception cref="InvalidOperationException">These credentials have no certificate (a worker's).</exception>
    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = _serverContext.Value,
        ClientCertificateRequired = Authority is not null,
        RemoteCertificateValidationCallback = Authority is null ? null : (_, certificate, chain, errors) => Validates(certificate, chain, errors),
    };

    /// <summary>
    /// How a client checks a TLS server and identifies itself, the same for the gRPC channel and the data plane: the
    /// server's certificate must be valid for <paramref name="targetHost"/> (the host of the server's <c>https://</c>
    /// address) and chain to <paramref name="tls"/>'s authority, or to the system's trust store when there are no
    /// credentials or they name no authority; the client presents its own certificate, if it has one.
    /// </summary>
    /// <param name="tls">The client's credentials; null: the system's trust store, no client certificate.</param>
    /// <param name="targetHost">The name the server's certificate must carry; null: the caller sets it (SocketsHttpHandler
    /// does, from the request's address).</param>
    public static SslClientAuthenticationOptions ClientOptions(TlsCredentials? tls, string? targetHost) => new()
    {
        TargetHost = targetHost,
        RemoteCertificateValidationCallback = tls is null ? null : (_, certificate, chain, errors) => tls.Validates(certificate, chain, errors),
        ClientCertificates = tls?.Certificate is { } own ? new X509CertificateCollection { own } : null,
    };

    private static T Read<T>(string files, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"{files}: {e.Message}", e);
        }
    }
}
