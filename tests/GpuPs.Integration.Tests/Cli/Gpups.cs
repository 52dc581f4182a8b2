using System.Diagnostics;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>Runs the real <c>gpups</c> program (<c>dotnet gpups.dll …</c>) as a separate process and captures its output.</summary>
public static class Gpups
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Task<Result> RunAsync(params string[] args) => RunAsync(new Dictionary<string, string>(), args);

    /// <summary>Runs <c>gpups</c> with <paramref name="environment"/> added to this process's environment.</summary>
    public static async Task<Result> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = GpuPs.Cli.Cluster.ChildProcess.StartInfo(args);
        info.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gpups {string.Join(' ', args)} did not finish in 4 minutes:\n{await stderr}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
