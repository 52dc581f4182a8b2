using System.Diagnostics;
using System.Threading.Channels;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// A <c>gpups</c> role (server or worker) in its own OS process. Its stdout lines are readable by the parent; the last
/// lines of its stderr are kept so that a failure is reported with the child's own words. Disposing kills it.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    public const string ListeningPrefix = "listening on ";
    private const int KeptErrorLines = 30;

    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly Queue<string> _stderrTail = new();
    private readonly string _name;

    private ChildProcess(string name, Process process)
    {
        _name = name;
        _process = process;
    }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>An error that names this process, <paramref name="what"/> happened to it, and its last error lines.</summary>
    public InvalidOperationException Failure(string what) => new($"{_name} {what}{Tail()}");

    /// <summary>This process in words for a report: running or its exit code, and its last error lines.</summary>
    public string Describe() => (_process.HasExited ? $"{_name} exited with code {_process.ExitCode}" : $"{_name} running (pid {_process.Id})") + Tail();

    /// <summary>The operating system's id of the process (for logs and for signals).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The processor time the process has used so far (all its threads, user and kernel), read afresh.</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts <c>gpups</c> with <paramref name="arguments"/> and the job's <paramref name="token"/> (see <see cref="StartInfo"/>).</summary>
    /// <param name="launcher">A command that runs gpups for it (e.g. <c>ip netns exec NS</c>: the program execs in place, so
    /// the process is gpups itself); null runs gpups directly.</param>
    public static ChildProcess Start(string name, IReadOnlyList<string> arguments, JobToken? token, ILogger log, IReadOnlyList<string>? launcher = null)
    {
        var info = StartInfo(arguments, token);
        if (launcher is { Count: > 0 })
        {
            var gpups = info.FileName;
            info.FileName = launcher[0];
            var rest = info.ArgumentList.ToArray();
            info.ArgumentList.Clear();
            foreach (var a in launcher.Skip(1).Append(gpups).Concat(rest)) info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) child._stdout.Writer.TryWrite(e.Data); else child._stdout.Writer.TryComplete(); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (child._stderrTail)
            {
                child._stderrTail.Enqueue(e.Data);
                if (child._stderrTail.Count > KeptErrorLines) child._stderrTail.Dequeue();
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        log.Information("Started {Role} as process {Pid}: {Command}", name, process.Id, string.Join(' ', info.ArgumentList));
        return child;
    }

    /// <summary>Waits for the server's "listening on URL" line and returns the URL.</summary>
    public async Task<string> ReadListeningAddressAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var line in _stdout.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                int at = line.IndexOf(ListeningPrefix, StringComparison.Ordinal);
                if (at >= 0) return line[(at + ListeningPrefix.Length)..].Split(' ')[0];
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new InvalidOperationException($"{_name} did not start listening within {timeout.TotalSeconds:F0} s{Tail()}");
        }
        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        throw new InvalidOperationException($"{_name} exited with code {_process.ExitCode} before listening{Tail()}");
    }

    /// <summary>Waits for the process to end and returns its exit code (137 when it was killed with SIGKILL).</summary>
    public async Task<int> WaitForExitAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Waits for the process to exit; throws with its last error lines unless it exited with 0.</summary>
    public async Task WaitForSuccessAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (_process.ExitCode != 0) throw new InvalidOperationException($"{_name} exited with code {_process.ExitCode}{Tail()}");
    }

    /// <summary>Kills the process (and its children) now: used by fault-injection tests and on shutdown.</summary>
    public void Kill()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private string Tail()
    {
        lock (_stderrTail) return _stderrTail.Count == 0 ? "" : ":\n  " + string.Join("\n  ", _stderrTail);
    }

    /// <summary>
    /// Starts <c>gpups</c> with <paramref name="arguments"/>, stdout and stderr redirected. A <paramref name="token"/> goes
    /// into the child's environment as <c>GPUPS_TOKEN</c> (an environment, unlike a command line, is not shown to other
    /// users by <c>ps</c>), replacing any token setting the child would inherit from this process.
    /// </summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, JobToken? token = null)
    {
        var (fileName, prefix) = GpupsCommand();
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(arguments)) info.ArgumentList.Add(a);
        ParentWatch.Pass(info);
        if (token is not null)
        {
            info.Environment[AuthOptions.TokenVariable] = token.Value;
            info.Environment.Remove(SettingSources.EnvironmentName("token-file"));
            info.Environment.Remove(SettingSources.EnvironmentName("insecure"));
        }
        return info;
    }

    /// <summary>
    /// How to start this same program: the apphost when running as <c>gpups</c>, else <c>dotnet gpups.dll</c>
    /// (tests load gpups.dll into the test host, whose own executable is not gpups).
    /// </summary>
    private static (string FileName, string[] Prefix) GpupsCommand()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "gpups") return (self, []);
        var dll = typeof(ChildProcess).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(dotnet) || !File.Exists(dotnet))
            dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        return (dotnet, [dll]);
    }
}
