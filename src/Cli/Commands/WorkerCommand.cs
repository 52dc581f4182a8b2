using System.CommandLine;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Topology;
using GpuPs.Kernels;
using GpuPs.Worker;
using GpuPs.Worker.Transport;
using Serilog.Events;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups worker</c>: joins a job at its servers and trains until the job ends.</summary>
public static class WorkerCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var servers = sources.Option("server", "http://127.0.0.1:5000", "server address(es), comma-separated in shard order");
        var workerId = sources.Option("worker-id", -1, "worker id to take (-1: the server assigns one)");
        var accelerator = WorkerAccelerators.Option(sources, what: "compute device (a list joined by +: item --worker-id of it)");
        var timeout = sources.Option("call-timeout-ms", 30_000, "deadline of each call to a server");
        var retries = sources.Option("max-retries", 8, "attempts of a call while a server is unreachable");
        var reportFile = sources.Option("report", "", "write what this worker did (steps, bytes, compute/pull/push seconds, every push's latency) as JSON to this file");
        var transport = TrainCommand.TransportOption(sources);
        var fused = TrainCommand.FusedPushPullOption(sources);
        var overlap = TrainCommand.OverlapOption(sources);
        var pushLog = sources.Option("push-log-steps", 0,
            "keep this many steps of pushes to bring a server restarted alone (--resume) up to the others' step; set it above the servers' --checkpoint-every plus the steps a shard runs while writing one checkpoint (its writer skips the ones due meanwhile); a log that does not reach back fails the worker, naming the shard");
        var topology = new TopologyOptions(sources);
        var pieces = new PieceSettings(sources);
        var auth = new AuthOptions(sources);
        var command = new Command("worker", "Run one worker: pull parameters, compute gradients on the accelerator, push them.");
        foreach (var o in new Option[] { servers, workerId, accelerator, timeout, retries, reportFile, transport, fused, overlap, pushLog, topology.File, topology.AggregatorTimeoutMs })
            command.Options.Add(o);
        pieces.AddTo(command);
        auth.AddTo(command);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "worker", LogEventLevel.Information);
            var addresses = AddressList.Parse(parse.GetValue(servers)!, "--server");
            var jobAuth = auth.Resolve(parse, "worker");
            if (jobAuth.IsInsecure) log.Warning("Worker sends NO JOB TOKEN (insecure): its servers must run with --insecure too");
            using var backend = Accelerators.Create(DeviceOf(WorkerAccelerators.Parse(parse.GetValue(accelerator)!), parse.GetValue(workerId)), log);
            var options = new WorkerOptions(addresses, parse.GetValue(workerId), TimeSpan.FromMilliseconds(parse.GetValue(timeout)),
                parse.GetValue(retries), Environment.MachineName, parse.GetValue(pushLog), pieces.Bind(parse), parse.GetValue(fused), parse.GetValue(overlap));
            if (parse.GetValue(topology.AggregatorTimeoutMs) <= 0) throw new SettingsException("--aggregator-timeout-ms must be positive");
            var nodes = parse.GetValue(topology.File) is { Length: > 0 } file ? TopologyFile.Load(file) : null;
            nodes?.Validate(int.MaxValue, addresses.Length);
            var connect = WorkerConnections.Create(addresses, jobAuth, parse.GetValue(transport), nodes, TimeSpan.FromMilliseconds(parse.GetValue(topology.AggregatorTimeoutMs)), log);
            await using var worker = new TrainingWorker(options, backend, log, connect);
            var report = await worker.RunAsync(ct);
            Console.WriteLine($"worker {report.WorkerId} finished: {report.Steps} steps on {report.Device}");
            if (parse.GetValue(reportFile) is { Length: > 0 } path) WorkerReportFile.Write(path, report);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// This worker's device: the one choice, or item <paramref name="workerId"/> of a per-worker list, which therefore
    /// needs <c>--worker-id</c> (the device is opened before the servers would assign an id).
    /// </summary>
    private static AcceleratorChoice DeviceOf(WorkerAccelerators accelerators, int workerId) =>
        accelerators.IsPerWorker && workerId < 0
            ? throw new SettingsException($"--accelerator {accelerators} gives each worker id its device: give this worker's --worker-id too")
            : accelerators.For(workerId);
}
