using System.CommandLine;
using GpuPs.Core.Security;

namespace GpuPs.Cli.Settings;

/// <summary>
/// Where <c>gpups server</c> and <c>gpups worker</c> get the job's shared token: <c>--token-file PATH</c> or the environment
/// variable <c>GPUPS_TOKEN</c> — never a command-line value, which <c>ps</c> would show to every user of the machine.
/// <c>--insecure</c> runs without authentication, and must be asked for: with neither, the command refuses to start.
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
    }

    /// <summary><c>--token-file PATH</c>: the file holding the token.</summary>
    public Option<string?> TokenFile { get; }

    /// <summary><c>--insecure</c>: run without authentication.</summary>
    public Option<bool> Insecure { get; }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(TokenFile);
        command.Options.Add(Insecure);
    }

    /// <summary>The authentication <c>gpups <paramref name="command"/></c> runs with.</summary>
    /// <exception cref="SettingsException">No token and no <c>--insecure</c>; both; two tokens; an unreadable or unusable token.</exception>
    public JobAuth Resolve(ParseResult parse, string command)
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
