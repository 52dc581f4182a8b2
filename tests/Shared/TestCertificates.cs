using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GpuPs.Tests.Shared;

/// <summary>
/// A private certificate authority made at test time (ECDSA P-256, valid for a day), issuing server certificates for
/// loopback (127.0.0.1, ::1, localhost) and client certificates, and writing them as PEM files, as an operator would have
/// them, into a temporary directory that <see cref="Dispose"/> deletes.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly Lazy<string> _directory = new(() => System.IO.Directory.CreateTempSubdirectory("gpups-tls-").FullName);

    public TestCertificates(string name = "GpuPs test CA")
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>The CA's own (self-signed) certificate.</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The CA's certificate as a collection, as <c>TlsCredentials</c> takes it.</summary>
    public X509Certificate2Collection AuthorityCollection => [X509CertificateLoader.LoadCertificate(Authority.RawData)];

    /// <summary>A server certificate for the loopback addresses, or for <paramref name="host"/> alone.</summary>
    public X509Certificate2 Server(string? host = null)
    {
        var names = new SubjectAlternativeNameBuilder();
        if (host is null)
        {
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
            names.AddDnsName("localhost");
        }
        else names.AddDnsName(host);
        return Issue("CN=gpups server", "1.3.6.1.5.5.7.3.1", names.Build());
    }

    /// <summary>A client certificate (for mutual TLS).</summary>
    public X509Certificate2 Client(string name = "gpups worker") => Issue($"CN={name}", "1.3.6.1.5.5.7.3.2", null);

    /// <summary>The directory the PEM files are written to.</summary>
    public string Directory => _directory.Value;

    /// <summary>Writes <paramref name="certificate"/> and its key as PEM files <c>NAME.pem</c>, <c>NAME.key</c>; returns their paths.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name)
    {
        var (cert, key) = (Path.Combine(Directory, name + ".pem"), Path.Combine(Directory, name + ".key"));
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (cert, key);
    }

    /// <summary>Writes the CA's certificate as a PEM file <c>NAME.pem</c>; returns its path.</summary>
    public string WriteAuthorityPem(string name = "ca")
    {
        var path = Path.Combine(Directory, name + ".pem");
        File.WriteAllText(path, Authority.ExportCertificatePem());
        return path;
    }

    public void Dispose()
    {
        Authority.Dispose();
        _key.Dispose();
        if (_directory.IsValueCreated) System.IO.Directory.Delete(_directory.Value, recursive: true);
    }

    private X509Certificate2 Issue(string subject, string usage, X509Extension? names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (names is not null) request.CertificateExtensions.Add(names);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(Authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        return issued.CopyWithPrivateKey(key);
    }
}
