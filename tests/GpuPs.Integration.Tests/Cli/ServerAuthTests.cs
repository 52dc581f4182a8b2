using System.Diagnostics;
using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Worker.Transport;

namespace GpuPs.Integration.Tests.Cli;

/// <summary><c>gpups server</c>'s job token, on the real program: where it comes from, and that every call needs it.</summary>
public class ServerAuthTests
{
    private static readonly string[] Job = ["server", "--urls", "http://127.0.0.1:0", "--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "2"];

    [Fact]
    public async Task A_server_with_a_token_file_refuses_calls_without_that_token()
    {
        var token = JobToken.Generate();
        var file = Path.Combine(Path.GetTempPath(), $"gpups-token-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, token.Value + "\n");
        try
        {
            await using var server = await RunningServer.StartAsync([.. Job, "--token-file", file]);
            await using var right = new GrpcShardClient(server.Address, JobAuth.WithToken(token));
            await using var wrong = new GrpcShardClient(server.Address, JobAuth.WithToken(JobToken.Generate()));
            await using var none = new GrpcShardClient(server.Address, JobAuth.Insecure);

            Assert.Equal(2, (await right.StatusAsync(CancellationToken.None)).Job.Workers);
            Assert.Equal(ShardErrorKind.Unauthenticated, (await Assert.ThrowsAsync<ShardException>(() => wrong.StatusAsync(CancellationToken.None))).Kind);
            Assert.Equal(ShardErrorKind.Unauthenticated, (await Assert.ThrowsAsync<ShardException>(() => none.StatusAsync(CancellationToken.None))).Kind);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task An_insecure_server_says_so_loudly_and_serves_anyone()
    {
        await using var server = await RunningServer.StartAsync([.. Job, "--insecure"]);
        await using var client = new GrpcShardClient(server.Address, JobAuth.Insecure);

        Assert.Equal(2, (await client.StatusAsync(CancellationToken.None)).Job.Workers);
        Assert.Contains("WITHOUT AUTHENTICATION", server.Stderr());
    }

    [Fact]
    public async Task Tokens_too_short_or_given_twice_are_refused_before_the_server_starts()
    {
        var file = Path.Combine(Path.GetTempPath(), $"gpups-token-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, "short\n");
        try
        {
            var run = await Gpups.RunAsync([.. Job, "--token-file", file]);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains($"--token-file {file}: a job token needs at least 16 characters (it has 5)", run.Stderr);

            run = await Gpups.RunAsync(new Dictionary<string, string> { ["GPUPS_TOKEN"] = JobToken.Generate().Value }, [.. Job, "--token-file", file]);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("both --token-file and GPUPS_TOKEN are set", run.Stderr);
        }
        finally { File.Delete(file); }
    }

    /// <summary>A <c>gpups server</c> process, killed on dispose.</summary>
    private sealed class RunningServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _stderr = new();

        private RunningServer(Process process) => _process = process;

        public string Address { get; private set; } = "";

        public string Stderr()
        {
            lock (_stderr) return _stderr.ToString();
        }

        public static async Task<RunningServer> StartAsync(string[] args)
        {
            var server = new RunningServer(Process.Start(ChildProcess.StartInfo(args))!);
            server._process.ErrorDataReceived += (_, e) => { lock (server._stderr) server._stderr.AppendLine(e.Data); };
            server._process.BeginErrorReadLine();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await server._process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (!line.StartsWith(ChildProcess.ListeningPrefix, StringComparison.Ordinal)) continue;
                server.Address = line[ChildProcess.ListeningPrefix.Length..].Split(' ')[0];
                return server;
            }
            await server.DisposeAsync();
            throw new InvalidOperationException($"gpups server exited before listening:\n{server.Stderr()}");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
