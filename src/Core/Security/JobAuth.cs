namespace GpuPs.Core.Security;

/// <summary>
/// How the calls of a job are authenticated, said explicitly by every server and client: with the job's
/// <see cref="JobToken"/>, or not at all (<see cref="Insecure"/>, for tests and trusted networks); and, with
/// <see cref="WithTls"/>, over TLS (<c>https://</c> addresses) with the given <see cref="TlsCredentials"/>.
/// </summary>
public sealed class JobAuth
{
    private JobAuth(JobToken? token, TlsCredentials? tls = null) => (Token, Tls) = (token, tls);

    /// <summary>No authentication: a server accepts every call, a client sends no token.</summary>
    public static JobAuth Insecure { get; } = new(null);

    /// <summary>Servers require <paramref name="token"/> on every call; clients send it on every call.</summary>
    public static JobAuth WithToken(JobToken token) => new(token);

    /// <summary>The job's token; null when <see cref="IsInsecure"/>.</summary>
    public JobToken? Token { get; }

    /// <summary>The TLS material for <c>https://</c> addresses; null: cleartext HTTP/2 only (a client may still reach an
    /// <c>https://</c> server whose certificate the system trusts).</summary>
    public TlsCredentials? Tls { get; }

    /// <summary>The same token (or none) over TLS with <paramref name="tls"/>.</summary>
    public JobAuth WithTls(TlsCredentials tls) => new(Token, tls);

    /// <summary>No authentication at all (<see cref="Insecure"/>).</summary>
    public bool IsInsecure => Token is null;

    /// <summary>The mode, for logs; never the token itself.</summary>
    public override string ToString() =>
        (IsInsecure ? "insecure (no authentication)" : "job token") +
        (Tls is null ? "" : Tls.Authority is not null && Tls.Certificate is not null ? ", mutual TLS" : ", TLS");
}
