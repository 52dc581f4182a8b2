using System.CommandLine;
using GpuPs.Core.Security;

namespace GpuPs.Cli.Settings;

/// <summary>
/// Where <c>gpups server</c> and <c>gpups worker</c> get the job's shared token: <c>--token-file PATH</c> or the environment
/// variable <c>GPUPS_TOKEN</c> — never a command-line value, which <c>ps</c> would show to every user of the machine.
/// <c>--insecure</c> runs without authentication, and must be asked for: with neither, the command refuses to start.
/// With <c>--tls-cert</c>/<c>--tls-key</c>/<c>--tls-ca</c> (PEM files) the calls go over TLS to <c>https://</c> addresses,
/// the token still on every call (<see cref="TlsCredentials"/> says what each file means for a server and a worker).
/// </summary>
public sealed class AuthOptions
{
    /// <summary>The environment variable that carries the token itself (how <c>gpups train</c> hands it to its child processes).</summary>
    public static readonly string TokenVariable = SettingSources.EnvironmentName("token");

    private readonly string? _environmentToken;

    public AuthOptions(SettingSources sources)
    {
        TokenFile = sources.Option<string?>("token-file", null,
            $"file holding the job's shared token (or set {TokenVariable}); every server and worker of a job uses the same one, e.g. from `openssl rand -hex 32`");
        Insecure = sources.Option("insecure", false,
            "run without authentication: anyone who can reach the server can join the job, push gradients and read the model (trusted networks only)");
        _environmentToken = sources.EnvironmentOnly("token");
        TlsCert = sources.Option<string?>("tls-cert", null,
            "PEM certificate this process presents over TLS: a server's own (needed for an https:// address), or a worker's client certificate for servers that require mutual TLS");
        TlsKey = sources.Option<string?>("tls-key", null, "PEM private key of --tls-cert");
        TlsCa = sources.Option<string?>("tls-ca", null,
            "PEM certificate authority trusted for the peer: a worker accepts only https:// servers whose certificate it issued; a server given one requires every client to present a certificate it issued (mutual TLS)");
    }

    /// <summary><c>--token-file PATH</c>: the file holding the token.</summary>
    public Option<string?> TokenFile { get; }

    /// <summary><c>--insecure</c>: run without authentication.</summary>
    public Option<bool> Insecure { get; }

    /// <summary><c>--tls-cert PATH</c>: this process's certificate (PEM).</summary>
    public Option<string?> TlsCert { get; }

    /// <summary><c>--tls-key PATH</c>: the private key of <see cref="TlsCert"/> (PEM).</summary>
    public Option<string?> TlsKey { get; }

    /// <summary><c>--tls-ca PATH</c>: the certificate authority trusted for the peer (PEM).</summary>
    public Option<string?> TlsCa { get; }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { TokenFile, Insecure, TlsCert, TlsKey, TlsCa }) command.Options.Add(option);
    }

    /// <summary>The authentication <c>gpups <paramref name="command"/></c> runs with, and its TLS credentials if any are given.</summary>
    /// <exception cref="SettingsException">No token and no <c>--insecure</c>; both; two tokens; an unreadable or unusable
    /// token; a TLS file that is missing or unreadable, a certificate without its key or the other way round.</exception>
    public JobAuth Resolve(ParseResult parse, string command)
    {
        var auth = ResolveToken(parse, command);
        var (cert, key, ca) = (parse.GetValue(TlsCert), parse.GetValue(TlsKey), parse.GetValue(TlsCa));
        if (cert is null && key is null && ca is null) return auth;
        try { return auth.WithTls(TlsCredentials.FromPemFiles(cert, key, ca)); }
        catch (ArgumentException e) { throw new SettingsException(e.Message); }
    }

    private JobAuth ResolveToken(ParseResult parse, string command)
    {
        string? file = parse.GetValue(TokenFile);
        bool fromEnvironment = !string.IsNullOrEmpty(_environmentToken);
        if (file is not null && fromEnvironment)
            throw new SettingsException($"both --token-file and {TokenVariable} are set: give the job token one way");
        if (parse.GetValue(Insecure))
        {
            if (file is not null || fromEnvironment)
                throw new SettingsException($"--insecure runs without a job token, yet one is given ({(file is not null ? "--token-file" : TokenVariable)}): choose one");
            return JobAuth.Insecure;
        }
        if (file is not null) return JobAuth.WithToken(Parse(ReadTokenFile(file), $"--token-file {file}"));
        if (fromEnvironment) return JobAuth.WithToken(Parse(_environmentToken!, $"environment variable {TokenVariable}"));
        throw new SettingsException($"gpups {command} needs the job's token: --token-file PATH or the environment variable {TokenVariable} " +
            "(the same for every server and worker of the job), or --insecure to run without authentication on a trusted network");
    }

    private static string ReadTokenFile(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"--token-file {path}: {e.Message}");
        }
    }

    private static JobToken Parse(string text, string source)
    {
        try { return JobToken.Parse(text); }
        catch (ArgumentException e) { throw new SettingsException($"{source}: {e.Message}"); }
    }
}
