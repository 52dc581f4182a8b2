using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// A hand-made deployment as the README describes it — two <c>gpups server</c> shards and two <c>gpups worker</c>
/// processes — ends on its own: the workers exit 0 when the job finishes, each server writes its slice and exits 0 after
/// its linger, so a script or a Kubernetes Job completes without killing anything; <c>gpups evaluate</c> then assembles
/// the slices and reports the model's accuracy.
/// </summary>
public class DeploymentRunTests
{
    private static readonly string[] Job =
        ["--dataset", "synthetic:rows=400,features=4,classes=2,separation=3", "--workers", "2", "--servers", "2", "--steps", "40", "--batch-size", "0"];

    [Fact]
    public async Task Servers_and_workers_of_a_finished_job_all_exit_0_and_evaluate_assembles_their_model()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        // One shard writes JSON, the other safetensors: evaluate assembles either.
        string[] outputs = [Temporary(".json"), Temporary(".safetensors")];
        string exported = Temporary(".safetensors");
        try
        {
            var (first, firstAddress) = await ServerProcess.StartAsync([.. Job, "--shard-index", "0", "--linger-ms", "500", "--output", outputs[0]], token, guard.Token);
            await using var shard0 = first;
            var (second, secondAddress) = await ServerProcess.StartAsync([.. Job, "--shard-index", "1", "--linger-ms", "500", "--output", outputs[1]], token, guard.Token);
            await using var shard1 = second;
            string servers = $"{firstAddress},{secondAddress}";
            await using var worker0 = ChildProcess.Start("worker 0", ["worker", "--server", servers, "--accelerator", "simd"], token, Log.Logger);
            await using var worker1 = ChildProcess.Start("worker 1", ["worker", "--server", servers, "--accelerator", "simd"], token, Log.Logger);

            Assert.Equal(0, await worker0.WaitForExitAsync(guard.Token));
            Assert.Equal(0, await worker1.WaitForExitAsync(guard.Token));
            Assert.Equal(0, await shard0.WaitForExitAsync(guard.Token));
            Assert.Equal(0, await shard1.WaitForExitAsync(guard.Token));

            var evaluated = await Gpups.RunAsync(["evaluate", .. Job, "--shards", string.Join(',', outputs.Reverse()), "--export", exported]);
            Assert.True(evaluated.ExitCode == 0, $"exit {evaluated.ExitCode}\n{evaluated.Stdout}\n{evaluated.Stderr}");
            Assert.True(TestAccuracy(evaluated.Stdout) >= 0.9, evaluated.Stdout);

            // The assembled model, exported, evaluates alone (its recorded job options) to the same accuracy.
            var reread = await Gpups.RunAsync("evaluate", exported);
            Assert.True(reread.ExitCode == 0, reread.Stderr);
            Assert.Equal(TestAccuracy(evaluated.Stdout), TestAccuracy(reread.Stdout));
            var slice = await Gpups.RunAsync("evaluate", outputs[1]);
            Assert.Equal(2, slice.ExitCode);
            Assert.Contains("shard 1 of 2 only", slice.Stderr);

            var missing = await Gpups.RunAsync(["evaluate", .. Job, "--shards", outputs[0]]);
            Assert.Equal(2, missing.ExitCode);
            Assert.Contains("no shard file covers parameter", missing.Stderr);
        }
        finally
        {
            foreach (var file in outputs.Append(exported)) foreach (var f in new[] { file, Path.ChangeExtension(file, ".meta.json") }) File.Delete(f);
        }
    }

    private static string Temporary(string extension) => Path.Combine(Path.GetTempPath(), $"gpups-shard-{Guid.NewGuid():N}{extension}");

    private static double TestAccuracy(string table) => double.Parse(
        table.Split('\n').Single(l => l.Contains("test")).Split('│', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[3],
        System.Globalization.CultureInfo.InvariantCulture);
}
