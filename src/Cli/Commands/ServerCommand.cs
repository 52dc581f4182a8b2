using System.CommandLine;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Data;
using GpuPs.Core.Models;
using GpuPs.Kernels;
using GpuPs.Server;
using GpuPs.Server.DataPlane;
using GpuPs.Server.Observers;
using Prometheus;
using Serilog.Events;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups server</c>: one parameter-server shard of a job, serving gRPC. When the job finishes it logs so, writes its
/// parameters to <c>--output</c> if given, answers pulls for <c>--linger-ms</c> more and exits 0 — so a Kubernetes Job or
/// a script ends with it — unless <c>--keep-serving</c>; SIGTERM or Ctrl+C stop it at any time.
/// </summary>
public static class ServerCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var job = new JobOptions(sources);
        var shardIndex = sources.Option("shard-index", 0, "which shard of the parameter vector this server owns (0 .. servers-1)");
        var urls = sources.Option("urls", "http://0.0.0.0:5000", "address to listen on (port 0 picks a free port)");
        var output = sources.Option<string?>("output", null, "when the job finishes, write this shard's parameters here: FILE.safetensors (with a FILE.meta.json sidecar) holds the model's layers when this is the only shard, else the shard's slice; any other name gets JSON (shard, offset, step, parameters)");
        var checkpointDir = sources.Option<string?>("checkpoint-dir", null,
            "write atomic checkpoints of this shard here (safetensors: parameters, optimizer state, step), and one on SIGTERM");
        var checkpointEvery = sources.Option("checkpoint-every", 100, "closed steps between checkpoints (with --checkpoint-dir)");
        var keepServing = sources.Option("keep-serving", false, "after the job finishes, serve pulls until stopped instead of exiting");
        var lingerMs = sources.Option("linger-ms", 5000, "after the job finishes, keep answering this long (workers read the final model), then exit 0");
        var dataPort = sources.Option("data-port", 0, "port of the framed TCP data plane on the --urls host (0: a free port; -1: none, tensors over gRPC only)");
        var dataUrls = sources.Option<string?>("data-urls", null, "where the framed TCP data plane listens, tcp://HOST:PORT (instead of --data-port on the --urls host)");
        var metricsPort = sources.Option("metrics-port", 0, "serve Prometheus metrics over HTTP/1.1 at http://0.0.0.0:PORT/metrics (0: off)");
        var resume = sources.Option("resume", false, "start from the newest intact checkpoint of this job in --checkpoint-dir (step 0 if there is none)");
        var auth = new AuthOptions(sources);
        var limits = new ServerLimitOptions(sources);
        var pieces = new PieceSettings(sources);   // the job's pieces: a bsp shard closes each piece's key range on its own
        var command = new Command("server", "Run one parameter-server shard (gRPC over HTTP/2, with TLS on an https:// URL; every call must carry the job's token).");
        job.AddTo(command);
        pieces.AddTo(command);
        auth.AddTo(command);
        limits.AddTo(command);
        command.Options.Add(shardIndex);
        command.Options.Add(urls);
        command.Options.Add(output);
        command.Options.Add(checkpointDir);
        command.Options.Add(checkpointEvery);
        command.Options.Add(resume);
        command.Options.Add(metricsPort);
        command.Options.Add(dataPort);
        command.Options.Add(dataUrls);
        command.Options.Add(keepServing);
        command.Options.Add(lingerMs);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            var settings = job.Bind(parse) with { Pieces = pieces.Bind(parse) };
            var jobAuth = auth.Resolve(parse, "server");
            var serverLimits = limits.Bind(parse) with { FrameChecksum = Protocol.Frames.FrameChecksums.Parse(settings.FrameChecksum) };
            string? outputPath = parse.GetValue(output);
            if (outputPath is not null) ResultFile.CheckWritable(outputPath);
            using var log = global.CreateLogger(parse, "server", LogEventLevel.Information);
            var spec = JobFactory.CreateJob(settings);
            using var backend = Accelerators.Create(AcceleratorChoice.Simd, log);
            int index = parse.GetValue(shardIndex);
            string? directory = parse.GetValue(checkpointDir);
            if (parse.GetValue(resume) && directory is null) throw new SettingsException("--resume needs --checkpoint-dir (where the checkpoints are)");
            var store = directory is null ? null : new CheckpointStore(directory, index, log);
            var from = parse.GetValue(resume) ? store!.Latest(JobFingerprints.Of(spec)) : null;
            if (parse.GetValue(resume) && from is null) log.Warning("No intact checkpoint of this job in {Directory}: starting at step 0", directory);
            var checkpointer = store is null ? null : new ShardCheckpointer(store, parse.GetValue(checkpointEvery), log);
            IShardObserver[] observers = [new ShardMetrics(Metrics.DefaultRegistry, index), .. checkpointer is null ? [] : new IShardObserver[] { checkpointer }];
            using var shard = ParameterShard.Create(spec, JobFactory.Optimizer(settings), index, settings.Servers, backend, log, observers, from);
            int port = parse.GetValue(metricsPort);
            using var metricServer = port > 0 ? new KestrelMetricServer(port).Start() : null;
            if (port > 0) log.Information("Shard {Shard} serves Prometheus metrics at http://0.0.0.0:{Port}/metrics", index, port);
            await using var stopCheckpoints = checkpointer;   // declared after the shard: the writer stops before the shard goes
            checkpointer?.Attach(shard);
            var dataUrl = DataUrl(parse.GetValue(urls)!, parse.GetValue(dataPort), parse.GetValue(dataUrls));
            await using var host = await GpuPsServerHost.StartAsync(shard, parse.GetValue(urls)!, dataUrl, jobAuth, serverLimits, log, ct);
            Console.WriteLine($"{ChildProcess.ListeningPrefix}{host.Address.ToString().TrimEnd('/')} (shard {shard.Info.Index} of {shard.Info.Count}, {shard.Info.Length} parameters)");
            log.Information("Shard {Shard} serving {Length} parameters for {Workers} workers, {Mode}, {Steps} steps",
                shard.Info.Index, shard.Info.Length, spec.Workers, spec.Mode.Name, spec.Steps);
            try
            {
                await shard.Finished.WaitAsync(ct);
                if (outputPath is not null)
                {
                    var parameters = new float[shard.Info.Length];
                    var pulled = shard.CopyParameters(parameters);
                    if (ModelExports.IsSafetensors(outputPath))
                    {
                        // The data is read again only now, for the standardisation and class names the model file carries.
                        var data = PreparedData.Prepare(spec.Dataset, spec.TestFraction, spec.Seed);
                        ModelFile.Write(outputPath, ModelExports.Of(settings, spec.Model, data, parameters, pulled.Offset, pulled.Step, pulled.Shard, settings.Servers));
                    }
                    else ResultFile.Write(outputPath, new { shard = pulled.Shard, offset = pulled.Offset, step = pulled.Step, parameters });
                    log.Information("Shard {Shard} wrote its parameters to {Path}", shard.Info.Index, Path.GetFullPath(outputPath));
                }
                if (parse.GetValue(keepServing))
                    await Task.Delay(Timeout.Infinite, ct);
                // Workers still pulling the final step, and observers reading the model, get their answers first.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, parse.GetValue(lingerMs))), ct);
                log.Information("Shard {Shard}: the job finished; exiting", shard.Info.Index);
            }
            catch (OperationCanceledException) { log.Information("Shard {Shard} stopping", shard.Info.Index); }
            checkpointer?.SaveNow();
            return 0;
        }));
        return command;
    }

    /// <summary>The data plane's listen address: <c>--data-urls</c>, else the <c>--urls</c> host with <c>--data-port</c>; null for none.</summary>
    private static string? DataUrl(string urls, int port, string? dataUrls)
    {
        if (dataUrls is not null)
        {
            if (!dataUrls.StartsWith("tcp://", StringComparison.Ordinal) || !Uri.TryCreate(dataUrls, UriKind.Absolute, out _))
                throw new SettingsException($"--data-urls: '{dataUrls}' is not a tcp://HOST:PORT address");
            return dataUrls;
        }
        if (port is < -1 or > 65535) throw new SettingsException($"--data-port {port} is not a port (0: a free one, -1: no data plane)");
        if (port == -1) return null;
        if (!Uri.TryCreate(urls, UriKind.Absolute, out var grpc)) throw new SettingsException($"--urls: '{urls}' is not an address");
        return $"tcp://{grpc.Host}:{port}";
    }
}
