using System.Text.Json;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Kernels;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// Progress is not lost when a server dies: <c>kill -9</c> the server mid-run, start it again with <c>--resume</c> on the
/// same address, and the worker — which keeps running — rejoins and finishes the job; the final model is the model of a
/// run that was never interrupted (the resumed shard redoes the steps after its last checkpoint exactly).
/// </summary>
public class ServerResumeTests
{
    private static readonly TrainSettings Settings = new()
    {
        Dataset = "synthetic:rows=200,features=4,classes=2", Workers = 1, Servers = 1, Steps = 80, BatchSize = 8,
        Optimizer = OptimizerKind.Momentum, LearningRate = 0.2f, Accelerator = AcceleratorChoice.Simd,
        // 20 ms of simulated compute per step: long enough to kill the server in the middle.
        StragglerModel = "none:unit=0.02",
    };

    [Fact]
    public async Task A_server_killed_mid_run_and_resumed_from_its_checkpoint_finishes_the_same_model()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var token = JobToken.Generate();
        string directory = Directory.CreateTempSubdirectory("gpups-checkpoints-").FullName;
        string output = Path.Combine(directory, "final.json");
        string url = $"http://127.0.0.1:{Ports.Free()}";
        string[] server = ["server", "--urls", url, "--checkpoint-dir", directory, "--checkpoint-every", "5", "--output", output,
            .. JobOptions.ToArguments(Settings)];
        try
        {
            var first = ChildProcess.Start("server", server, token, Log.Logger);
            string address = await first.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), guard.Token);
            // 20 attempts (~75 s of backoff) ride out the restart even where starting a server process is slow (below).
            await using var worker = ChildProcess.Start("worker", ["worker", "--server", address, "--accelerator", "simd", "--max-retries", "20"], token, Log.Logger);
            await using (var observer = new GrpcShardClient(address, JobAuth.WithToken(token)))
                // The checkpoint writer coalesces requests (it keeps only the newest), so on a loaded machine it may lag
                // the shard's step: wait for a checkpoint on disk, not for the step alone.
                while ((await observer.StatusAsync(guard.Token)).Step < 30 || NewestCheckpoint(directory) < 25) await Task.Delay(10, guard.Token);
            await first.DisposeAsync();   // SIGKILL: no final checkpoint; the newest on disk is at step 25 or later

            await using var second = await StartServerAsync("server", [.. server, "--resume"], token, guard.Token);
            await using (var observer = new GrpcShardClient(address, JobAuth.WithToken(token)))
            {
                // Resumed from the newest checkpoint (step 25 or later), not from step 0: a fresh start would also end at
                // the same model, having redone every step.
                long resumedAt = (await observer.StatusAsync(guard.Token)).Step;
                Assert.True(resumedAt >= 25, $"the restarted server is at step {resumedAt}");
            }
            await worker.WaitForSuccessAsync(guard.Token);
            while (!File.Exists(output) || new FileInfo(output).Length == 0) await Task.Delay(20, guard.Token);

            using var result = JsonDocument.Parse(await File.ReadAllTextAsync(output, guard.Token));
            var parameters = result.RootElement.GetProperty("parameters").EnumerateArray().Select(p => p.GetSingle()).ToArray();
            Assert.Equal(Settings.Steps, result.RootElement.GetProperty("step").GetInt64());
            var uninterrupted = await TrainingRun.RunAsync(Settings, NullTrainingProgress.Instance, Log.Logger, guard.Token);
            FullBatchDescent.AssertClose(uninterrupted.Parameters.Select(p => (double)p).ToArray(), parameters, 1e-6);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>Starts a server process with <paramref name="arguments"/> and returns it once it listens (within 60 s); killed if it does not.</summary>
    private static async Task<ChildProcess> StartServerAsync(string name, string[] arguments, JobToken token, CancellationToken ct)
    {
        var server = ChildProcess.Start(name, arguments, token, Log.Logger);
        try
        {
            await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static long NewestCheckpoint(string directory, int shard = 0) => Directory.EnumerateFiles(directory, $"shard-{shard}-step-*.safetensors")
        .Select(f => long.Parse(Path.GetFileNameWithoutExtension(f)[$"shard-{shard}-step-".Length..], System.Globalization.CultureInfo.InvariantCulture))
        .DefaultIfEmpty(-1).Max();

    /// <summary>
    /// One of two shards is killed mid-run and restarted alone with <c>--resume</c> while the other shard and both workers
    /// keep running. It resumes from a checkpoint up to 5 steps older than the other shard's step; the workers rejoin it
    /// and push it their logged pushes of the steps it lost (<c>--push-log-steps</c>), so it catches up, and the final
    /// model of both shards is the model of a run that was never interrupted.
    /// </summary>
    [Fact]
    public async Task One_of_two_shards_killed_and_resumed_alone_catches_up_and_the_model_is_the_uninterrupted_one()
    {
        // Two shards, two workers; a sixth feature so that each shard holds 6 parameters.
        var settings = Settings with { Dataset = "synthetic:rows=200,features=5,classes=2", Workers = 2, Servers = 2 };
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var token = JobToken.Generate();
        string directory = Directory.CreateTempSubdirectory("gpups-lone-resume-").FullName;
        string[] outputs = [Path.Combine(directory, "shard0.json"), Path.Combine(directory, "shard1.json")];
        string[] urls = [$"http://127.0.0.1:{Ports.Free()}", $"http://127.0.0.1:{Ports.Free()}"];
        string[] Server(int i) => ["server", "--urls", urls[i], "--shard-index", i.ToString(), "--checkpoint-dir", directory, "--checkpoint-every", "5",
            "--output", outputs[i], .. JobOptions.ToArguments(settings)];
        try
        {
            await using var shard0 = await StartServerAsync("server 0", Server(0), token, guard.Token);
            var first = await StartServerAsync("server 1", Server(1), token, guard.Token);
            string servers = string.Join(',', urls);
            // The log reaches back further than --checkpoint-every: the checkpoint writer may lag the shard's step.
            // 20 attempts (~75 s of backoff) ride out the restart: the default 8 (~11 s) ran out once on a loaded CI
            // machine, where starting the new server process took longer than that.
            string[] worker = ["worker", "--server", servers, "--accelerator", "simd", "--push-log-steps", "20", "--max-retries", "20"];
            await using var worker0 = ChildProcess.Start("worker 0", worker, token, Log.Logger);
            await using var worker1 = ChildProcess.Start("worker 1", worker, token, Log.Logger);
            await using (var observer = new GrpcShardClient(urls[1], JobAuth.WithToken(token)))
                while ((await observer.StatusAsync(guard.Token)).Step < 32 || NewestCheckpoint(directory, shard: 1) < 30) await Task.Delay(10, guard.Token);
            await first.DisposeAsync();   // SIGKILL: shard 1 loses the steps since its last checkpoint; shard 0 keeps its own

            await using var second = await StartServerAsync("server 1", [.. Server(1), "--resume"], token, guard.Token);
            long resumedAt, othersAt;
            await using (var observer = new GrpcShardClient(urls[1], JobAuth.WithToken(token)))
                resumedAt = (await observer.StatusAsync(guard.Token)).Step;
            await using (var observer = new GrpcShardClient(urls[0], JobAuth.WithToken(token)))
                othersAt = (await observer.StatusAsync(guard.Token)).Step;
            Assert.True(resumedAt >= 30, $"the restarted shard is at step {resumedAt}");

            await worker0.WaitForSuccessAsync(guard.Token);
            await worker1.WaitForSuccessAsync(guard.Token);
            var parameters = new List<float>();
            foreach (var output in outputs)
            {
                while (!File.Exists(output) || new FileInfo(output).Length == 0) await Task.Delay(20, guard.Token);
                using var result = JsonDocument.Parse(await File.ReadAllTextAsync(output, guard.Token));
                Assert.Equal(settings.Steps, result.RootElement.GetProperty("step").GetInt64());
                parameters.AddRange(result.RootElement.GetProperty("parameters").EnumerateArray().Select(p => p.GetSingle()));
            }
            var uninterrupted = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, Log.Logger, guard.Token);
            FullBatchDescent.AssertClose(uninterrupted.Parameters.Select(p => (double)p).ToArray(), [.. parameters], 1e-6);
            Log.Information("Shard 1 resumed at step {Resumed} while shard 0 was at {Others}", resumedAt, othersAt);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>
    /// One of two shards is killed before it wrote any checkpoint and restarted alone with <c>--resume</c>: it starts at
    /// step 0, far behind the other shard, and the workers' push logs (2 steps) cannot bring it up. Each worker fails
    /// naming the shard, the steps and the option to raise; before, every worker waited for it forever.
    /// </summary>
    [Fact]
    public async Task One_of_two_shards_resumed_from_before_the_workers_push_logs_fails_the_workers_naming_it_instead_of_waiting_forever()
    {
        var settings = Settings with { Dataset = "synthetic:rows=200,features=5,classes=2", Workers = 2, Servers = 2 };
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var token = JobToken.Generate();
        string directory = Directory.CreateTempSubdirectory("gpups-short-log-").FullName;
        string[] urls = [$"http://127.0.0.1:{Ports.Free()}", $"http://127.0.0.1:{Ports.Free()}"];
        // Checkpoints every 1000 steps of an 80-step job: none is written before the kill.
        string[] Server(int i) => ["server", "--urls", urls[i], "--shard-index", i.ToString(), "--checkpoint-dir", directory, "--checkpoint-every", "1000",
            .. JobOptions.ToArguments(settings)];
        try
        {
            await using var shard0 = await StartServerAsync("server 0", Server(0), token, guard.Token);
            var first = await StartServerAsync("server 1", Server(1), token, guard.Token);
            string[] worker = ["worker", "--server", string.Join(',', urls), "--accelerator", "simd", "--push-log-steps", "2", "--max-retries", "20"];
            await using var worker0 = ChildProcess.Start("worker 0", worker, token, Log.Logger);
            await using var worker1 = ChildProcess.Start("worker 1", worker, token, Log.Logger);
            await using (var observer = new GrpcShardClient(urls[1], JobAuth.WithToken(token)))
                while ((await observer.StatusAsync(guard.Token)).Step < 20) await Task.Delay(10, guard.Token);
            await first.DisposeAsync();   // SIGKILL at step 20 or later

            await using var second = await StartServerAsync("server 1", [.. Server(1), "--resume"], token, guard.Token);

            foreach (var w in new[] { worker0, worker1 })
            {
                Assert.Equal(1, await w.WaitForExitAsync(guard.Token));
                string error = w.Failure("failed").Message;
                Assert.Contains($"shard 1 at {urls[1]} is at step 0 and the other shards at", error);
                Assert.Contains("push log (2 steps) does not reach back to step 0", error);
            }
            await using (var observer = new GrpcShardClient(urls[1], JobAuth.WithToken(token)))
                Assert.Equal(0, (await observer.StatusAsync(guard.Token)).Step);   // nothing was replayed into it
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
