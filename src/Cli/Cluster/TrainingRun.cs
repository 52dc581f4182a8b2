using System.Diagnostics;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// <c>gpups train</c>: starts an embedded cluster, follows the job's progress through the servers' status, evaluates the
/// model at the end of every epoch (<see cref="EpochEvaluations"/>), and returns the result once every worker has finished.
/// </summary>
public static class TrainingRun
{
    private static readonly TimeSpan PollPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs the job of <paramref name="settings"/> to the end; <paramref name="placement"/> places its processes
    /// (<see cref="TrainSettings.Processes"/> runs).</summary>
    public static async Task<TrainResult> RunAsync(TrainSettings settings, ITrainingProgress progress, ILogger log, CancellationToken ct, IProcessPlacement? placement = null)
    {
        var job = JobFactory.CreateJob(settings);
        var data = PreparedData.Prepare(job.Dataset, job.TestFraction, job.Seed);
        var shape = job.Model;
        int stepsPerEpoch = TrainingJob.StepsPerEpoch(data.Train.Rows, job.Workers, job.BatchSize);
        // A step-synchronous shard updates once per step; an ASP/SSP shard once per push, i.e. `workers` times per step.
        var mode = job.Mode;
        int updatesPerStep = mode.IsStepSynchronous ? 1 : job.Workers;
        using var evaluator = new ModelEvaluator(data, shape, ModelEvaluator.DeviceFor(settings.Accelerator.Choices), log);
        long started = Stopwatch.GetTimestamp();
        var layout = ShardLayout.Compute(job.ParameterCount, settings.Servers);
        var epochs = new EpochEvaluations(evaluator, layout, stepsPerEpoch, updatesPerStep, progress, started);
        // In-process shards copy their parameters at each epoch's end, so every epoch is evaluated at its exact step.
        await using var cluster = await EmbeddedCluster.StartAsync(settings, job, log, ct, placement, snapshotEvery: (long)stepsPerEpoch * updatesPerStep).ConfigureAwait(false);
        var observers = cluster.ServerAddresses.Select(a => new GrpcShardClient(a, cluster.Auth)).ToArray();
        try
        {
            progress.Started(job.Steps, $"{settings.Model.ToString().ToLowerInvariant()} on {settings.Dataset}, {job.Workers} workers, {mode.Name}");
            var workers = cluster.RunWorkersAsync(ct);
            int nextEpoch = 1;
            while (!workers.IsCompleted)
            {
                await Task.WhenAny(workers, Task.Delay(PollPeriod, ct)).ConfigureAwait(false);
                var status = await observers[0].StatusAsync(ct, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                // The shard's own step: a worker clock would stall on a straggler that never gets a push in.
                long done = status.Step / updatesPerStep;
                progress.Advanced(done);
                if (cluster.Snapshots.Count > 0)
                {
                    epochs.FromSnapshots(cluster.Snapshots);
                }
                else if (done >= (long)nextEpoch * stepsPerEpoch && done < job.Steps)
                {
                    await epochs.PullAsync(observers, ct).ConfigureAwait(false);
                    nextEpoch = (int)(done / stepsPerEpoch) + 1;
                }
            }
            var reports = await workers.ConfigureAwait(false);
            progress.Advanced(job.Steps);
            epochs.FromSnapshots(cluster.Snapshots);
            var final = await epochs.FinalAsync(observers, ct).ConfigureAwait(false);
            var parameters = epochs.Parameters;

            var statuses = await Task.WhenAll(observers.Select(o => o.StatusAsync(ct, TimeSpan.FromSeconds(10)))).ConfigureAwait(false);
            return new TrainResult(
                settings.Dataset, settings.Model.ToString().ToLowerInvariant(), mode.Name, job.Workers, settings.Servers,
                job.Steps, job.ParameterCount, DescribeDevice(reports, statuses[0]), Stopwatch.GetElapsedTime(started).TotalSeconds,
                final.TestAccuracy, final.TestLoss, final.TrainAccuracy, final.TrainLoss,
                statuses.Sum(s => s.PushesApplied), statuses.Sum(s => s.PushesRejected), statuses.Max(s => s.MaxStalenessSeen),
                statuses.Sum(s => s.PushesDroppedLate), statuses[0].StepSeconds.ToList(), statuses[0].StepLoss.ToList(),
                epochs.History.ToList(),
                reports.Select(r => new WorkerSummary(r.WorkerId, r.Device, r.Steps, r.StepsAbandoned, r.PushesDropped, r.BytesPushed,
                    r.ComputeSeconds, r.PullSeconds, r.PushSeconds, r.PushSlotVersion, r.SlotWaitSeconds, r.CompressSeconds, r.BytesPulled, r.FusedPulls)).ToList(),
                parameters, CommandLine(settings), DescribeCode(job), settings)
            {
                Export = ModelExports.Of(settings, shape, data, parameters, 0, final.Step),
                Timeline = cluster.Timeline.Spans,
                StepBreakdown = StepBreakdown.Of(reports),
                Assignment = AssignmentSummary.Of(statuses[0]),
                WorkerSteps = reports.ToDictionary(r => r.WorkerId, r => r.StepPhases),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException && cluster.ExitedServer() is { } exited)
        {
            // A server process that died (killed, out of memory) shows as a refused connection: say which one, and why.
            throw new InvalidOperationException($"{exited}\nthe run cannot go on without it ({e.Message})", e);
        }
        finally
        {
            foreach (var o in observers) await o.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The <c>gpups train</c> command line that runs these settings again.</summary>
    public static string CommandLine(TrainSettings settings) => string.Join(' ',
        ["gpups", "train", .. JobOptions.ToArguments(settings).Select(Quote), "--accelerator", settings.Accelerator.ToString(),
         .. (settings.Processes ? new[] { "--processes" } : []), "--transport", settings.Transport.ToString().ToLowerInvariant(),
         .. PieceSettings.Arguments(settings.Pieces),
         .. (settings.FusedPushPull ? Array.Empty<string>() : ["--fused-push-pull", "false"]),
         .. (settings.Overlap == Worker.ComputeOverlap.None ? Array.Empty<string>() : ["--overlap", settings.Overlap.ToString().ToLowerInvariant()]),
         "--output", Quote(settings.Output)]);

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_.,:=/+".Contains(c)) ? argument : $"'{argument.Replace("'", "'\\''")}'";

    private static string DescribeCode(TrainingJob job)
    {
        var code = job.Mode.Assignment(job);
        return code.Construction.Length == 0 ? code.Name : $"{code.Name} ({code.Construction}), s = {code.Stragglers}";
    }

    /// <summary>
    /// The workers' devices: the one they share, or each device with the workers on it ("CUDA …: worker 0; CPU SIMD …:
    /// workers 1, 2, 3"), from the workers' reports, else (no worker reported) the device each registered with at shard 0.
    /// </summary>
    private static string DescribeDevice(IReadOnlyList<WorkerReport> reports, StatusReply shard0)
    {
        var devices = reports.Count > 0
            ? reports.Select(r => (Id: r.WorkerId, Device: r.Device))
            : shard0.Workers.Where(w => w.Device.Length > 0).Select(w => (Id: w.WorkerId, w.Device));
        var groups = devices.OrderBy(d => d.Id).GroupBy(d => d.Device).ToList();
        return groups.Count <= 1 ? groups.FirstOrDefault()?.Key ?? "unknown"
            : string.Join("; ", groups.Select(g => $"{g.Key}: worker{(g.Count() > 1 ? "s" : "")} {string.Join(", ", g.Select(d => d.Id))}"));
    }
}
