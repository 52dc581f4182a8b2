using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using GpuPs.Core.Security;
using GpuPs.Tests.Shared;

namespace GpuPs.Core.Tests.Security;

/// <summary>Issue 11, TLS: PEM files read as an operator has them, and the peer check against a private authority.</summary>
public sealed class TlsCredentialsTests : IDisposable
{
    private readonly TestCertificates _ca = new();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Pem_files_give_the_certificate_with_its_key_and_the_authority()
    {
        using var server = _ca.Server();
        var (cert, key) = _ca.WritePem(server, "server");

        var tls = TlsCredentials.FromPemFiles(cert, key, _ca.WriteAuthorityPem());

        Assert.True(tls.Certificate!.HasPrivateKey);
        Assert.Equal(server.Thumbprint, tls.Certificate.Thumbprint);
        Assert.Equal(_ca.Authority.Thumbprint, Assert.Single(tls.Authority!).Thumbprint);
    }

    [Fact]
    public void A_certificate_without_its_key_a_missing_file_and_a_file_without_pem_are_refused_by_name()
    {
        using var server = _ca.Server();
        var (cert, key) = _ca.WritePem(server, "server");
        var notPem = Path.Combine(_ca.Directory, "not.pem");
        File.WriteAllText(notPem, "hello");

        Assert.Contains("--tls-key", Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(cert, null, null)).Message);
        Assert.Contains("--tls-cert", Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(null, key, null)).Message);
        Assert.Contains("missing.pem", Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(Path.Combine(_ca.Directory, "missing.pem"), key, null)).Message);
        Assert.Contains("not.pem", Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(null, null, notPem)).Message);
        Assert.Contains("not.pem", Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(cert, notPem, null)).Message);
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused()
    {
        using var one = _ca.Server();
        using var other = _ca.Server();
        var (cert, _) = _ca.WritePem(one, "one");
        var (_, otherKey) = _ca.WritePem(other, "other");

        Assert.Throws<ArgumentException>(() => TlsCredentials.FromPemFiles(cert, otherKey, null));
    }

    [Fact]
    public void Only_certificates_of_the_authority_validate_and_other_errors_still_refuse()
    {
        using var stranger = new TestCertificates("another CA");
        using var ours = _ca.Client();
        using var theirs = stranger.Client();
        var tls = new TlsCredentials(null, _ca.AuthorityCollection);
        using var chain = new X509Chain();

        Assert.True(tls.Validates(ours, chain, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(tls.Validates(theirs, chain, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(tls.Validates(ours, chain, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(tls.Validates(null, chain, SslPolicyErrors.RemoteCertificateNotAvailable));
        // Without an authority, the platform's verdict stands.
        Assert.False(new TlsCredentials(null, null).Validates(ours, chain, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.True(new TlsCredentials(null, null).Validates(ours, chain, SslPolicyErrors.None));
    }
}
