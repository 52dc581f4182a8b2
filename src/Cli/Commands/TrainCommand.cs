using System.CommandLine;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Models;
using GpuPs.Kernels;
using GpuPs.Worker.Transport;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups train</c>: a real training run on an embedded cluster (one server per shard and N workers over loopback gRPC).</summary>
public static class TrainCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var job = new JobOptions(sources);
        var accelerator = WorkerAccelerators.Option(sources, what: "compute device of the workers");
        var processes = sources.Option("processes", false, "run every server and worker as its own OS process");
        var transport = TransportOption(sources);
        var pieces = new PieceSettings(sources);
        var fused = FusedPushPullOption(sources);
        var overlap = OverlapOption(sources);
        var output = sources.Option("output", new TrainSettings().Output, "JSON result file; the model goes beside it as safetensors (train.json -> train.safetensors, train.meta.json)");
        var quiet = sources.Option("quiet", false, "print nothing but errors (the result and the model are still written)");
        var json = sources.Option("json", false, "print only a JSON summary on stdout (accuracy, loss, wall time, the files written), for scripts");
        var topology = new TopologyOptions(sources);
        var command = new Command("train", "Train a model on an embedded single-machine cluster: servers and workers talk real gRPC over loopback.");
        job.AddTo(command);
        command.Options.Add(accelerator);
        command.Options.Add(processes);
        command.Options.Add(transport);
        pieces.AddTo(command);
        command.Options.Add(fused);
        command.Options.Add(overlap);
        command.Options.Add(output);
        command.Options.Add(quiet);
        command.Options.Add(json);
        foreach (var o in new Option[] { topology.File, topology.Nodes, topology.GatherTimeoutMs, topology.AggregatorTimeoutMs }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            var settings = job.Bind(parse) with
            {
                Accelerator = WorkerAccelerators.Parse(parse.GetValue(accelerator)!),
                Processes = parse.GetValue(processes),
                Transport = parse.GetValue(transport),
                Pieces = pieces.Bind(parse),
                FusedPushPull = parse.GetValue(fused),
                Overlap = parse.GetValue(overlap),
                Output = parse.GetValue(output)!,
                GatherTimeoutMs = parse.GetValue(topology.GatherTimeoutMs),
                AggregatorTimeoutMs = parse.GetValue(topology.AggregatorTimeoutMs),
            };
            settings = settings with { Topology = topology.Resolve(parse, settings.Workers) };
            if (ModelExports.IsSafetensors(settings.Output))
                throw new SettingsException($"--output {settings.Output}: the result is JSON (the model is written beside it as .safetensors); give a .json name");
            ResultFile.CheckWritable(settings.Output);
            ResultFile.CheckWritable(ModelPath(settings.Output));
            using var log = global.CreateLogger(parse, "train", LogEventLevel.Warning);
            var console = AnsiConsole.Console;
            bool silent = parse.GetValue(quiet) || parse.GetValue(json);
            TrainResult result;
            if (silent) result = await TrainingRun.RunAsync(settings, new NullTrainingProgress(), log, ct);
            else if (console.Profile.Capabilities.Interactive)
            {
                result = await console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .StartAsync(ctx => TrainingRun.RunAsync(settings, new ConsoleTrainingProgress(ctx.AddTask("starting")), log, ct));
            }
            else
            {
                result = await TrainingRun.RunAsync(settings, new ConsoleTrainingProgress(null), log, ct);
            }
            ResultFile.Write(settings.Output, result);
            string model = ModelPath(settings.Output);
            ModelFile.Write(model, result.Export!);
            if (parse.GetValue(json))
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    result.TestAccuracy, result.TestLoss, result.TrainAccuracy, result.TrainLoss, result.WallSeconds, result.Steps,
                    Result = Path.GetFullPath(settings.Output), Model = Path.GetFullPath(model),
                }, ResultJson.Options));
            else if (!parse.GetValue(quiet))
            {
                WriteSummary(console, result);
                console.WriteLine($"result written to {Path.GetFullPath(settings.Output)}");
                console.WriteLine($"model written to {Path.GetFullPath(model)} (safetensors; metadata in {ModelFile.SidecarPath(model)})");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Where <c>train</c> exports the model: beside the result, <c>results/train.json</c> → <c>results/train.safetensors</c>.</summary>
    public static string ModelPath(string output) => Path.ChangeExtension(output, ".safetensors");

    public static Option<TransportChoice> TransportOption(SettingSources sources) =>
        sources.Option("transport", TransportChoice.Auto,
            "data plane for tensors: auto (the server's framed TCP data plane when it offers one, through shared memory on its host, else gRPC) | grpc | tcp (fail if the server offers none) | shm (shared memory with the server on this host, fail otherwise)");

    public static Option<bool> FusedPushPullOption(SettingSources sources) =>
        sources.Option("fused-push-pull", true,
            "one round trip per step: a push over the TCP data plane brings back the parameters of the step it closes (the pull that follows it); false: push and pull separately");

    public static Option<Worker.ComputeOverlap> OverlapOption(SettingSources sources) =>
        sources.Option("overlap", Worker.ComputeOverlap.None,
            "none | wavefront: compute the MLP's backward pass block by block and push each piece as its block is done, so compute overlaps the push, at most two ranges ahead of the last range closed (BSP with --piece-size, float32 pushes; elsewhere the worker computes whole and logs why)");

    private static void WriteSummary(IAnsiConsole console, TrainResult r)
    {
        var history = new Table().Title("evaluation per epoch").AddColumns("epoch", "step", "train loss", "train acc", "test loss", "test acc", "seconds");
        foreach (var e in r.History)
            history.AddRow($"{e.Epoch:F2}", $"{e.Step}", $"{e.TrainLoss:F4}", $"{e.TrainAccuracy:F4}", $"{e.TestLoss:F4}", $"{e.TestAccuracy:F4}", $"{e.WallSeconds:F1}");
        console.Write(history);
        var summary = new Table().Title("GpuPs training run").AddColumns("", "").HideHeaders();
        summary.AddRow("data / model", Markup.Escape($"{r.Dataset} / {r.Model} ({r.ParameterCount} parameters)"));
        summary.AddRow("cluster", Markup.Escape($"{r.Servers} server shard(s), {r.Workers} workers, {r.Mode}"));
        summary.AddRow("device", Markup.Escape(r.Device));
        summary.AddRow("steps per worker", $"{r.Steps}");
        // Each shard applies its slice of every push: with several shards the counts are theirs, summed.
        summary.AddRow(r.Servers > 1 ? $"pushes applied / refused (summed over {r.Servers} shards)" : "pushes applied / refused", $"{r.PushesApplied} / {r.PushesRejected}");
        summary.AddRow("wall time", $"{r.WallSeconds:F2} s");
        summary.AddRow("test accuracy", $"[bold]{r.TestAccuracy:F4}[/]");
        summary.AddRow("test loss", $"{r.TestLoss:F4}");
        if (r.Assignment is { } a)
            summary.AddRow("rows by speed", Markup.Escape($"version {a.Version} from step {a.FromStep}: " +
                string.Join(", ", a.Shares.Select((share, i) => $"worker {i} {share:P0}"))));
        console.Write(summary);
        if (r.StepBreakdown is { } breakdown) console.Write(BreakdownTable(breakdown, delays: r.Settings.StragglerModel != "none"));
    }

    /// <summary>
    /// The per-step breakdown: per worker and overall, the mean step and its parts in ms and as shares of it (the
    /// injected-delay column only with a straggler model).
    /// </summary>
    private static Table BreakdownTable(StepBreakdown breakdown, bool delays)
    {
        var table = new Table().Title("mean step, ms (share of the step)")
            .AddColumns("worker", "device", "steps", "step", "compute", "pull wait", "push wait", "compression");
        if (delays) table.AddColumn("injected delay");
        table.AddColumn("host / other");
        foreach (var row in breakdown.Workers.Append(breakdown.Overall))
        {
            static string Part(double ms, double share) => $"{ms:F3} ({share:P0})";
            var cells = new List<string>
            {
                row.Worker < 0 ? "[bold]all[/]" : $"{row.Worker}", Markup.Escape(row.Device), $"{row.Steps}", $"{row.StepMs:F3}",
                Part(row.ComputeMs, row.ComputeShare), Part(row.PullMs, row.PullShare), Part(row.PushMs, row.PushShare), Part(row.CompressMs, row.CompressShare),
            };
            if (delays) cells.Add(Part(row.DelayMs, row.DelayShare));
            cells.Add(Part(row.OtherMs, row.OtherShare));
            table.AddRow([.. cells]);
        }
        table.Caption($"compute: parameters to the device, kernels, gradient back; each worker's first {StepBreakdown.WarmupSteps} steps (warm-up) and abandoned steps left out");
        return table;
    }
}
