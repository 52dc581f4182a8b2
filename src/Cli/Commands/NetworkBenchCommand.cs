using System.CommandLine;
using GpuPs.Cli.Bench.Network;
using GpuPs.Cli.Settings;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups bench network</c>: training over emulated links (network namespaces, veth, tc tbf), as root.</summary>
public static class NetworkBenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("network",
            "BSP training with real server and worker processes, each in its own network namespace joined by veth pairs and a bridge, links shaped "
            + "with tc tbf (root only): server link limited, one slow worker link, two shards on separate links, each simultaneous and round-robin; two nodes of workers flat and with a node aggregator each (--delay-ms adds a user-space link delay). "
            + "Step time mean/p50/p99, push latency p50/p99, the busiest link's utilisation and its lower bound on the step time.");
        var d = new NetworkBenchmarkOptions();
        var workers = sources.Option("workers", d.Workers, "workers per scenario");
        var features = sources.Option("features", d.Features, "features of the synthetic softmax model (parameters = classes x (features + 1))");
        var classes = sources.Option("classes", d.Classes, "classes of the model");
        var steps = sources.Option("steps", d.Steps, "BSP steps per scenario (step 0 is left out of the statistics)");
        var rate = sources.Option("server-mbit", d.ServerMbit, "rate of each server's link, each way, Mbit/s (the slow worker's link gets a quarter)");
        var concurrency = sources.Option("push-concurrency", d.PushConcurrency, "round-robin: transfers that may share a server link at a time");
        var delay = sources.Option("delay-ms", d.DelayMs, "one-way delay added to every server link by a user-space proxy in front of each server, ms (netem is not available; 0: none)");
        var scenarios = sources.Option("scenarios", "", "comma-separated scenarios (server-link, early-pulls: the server link with BSP per-range closing, slow-worker-link, two-shards, two-nodes: 2 nodes flat and hierarchical, layered: the MLP whole, in pieces, and in pieces with the wavefront (--overlap wavefront), asp and ssp: the server link with per-push updates, a step being a round of n pushes); empty: all");
        var hidden = sources.Option("hidden", d.Hidden, "layered scenario: hidden units of its MLP (parameters = hidden x (features + 1) + classes x (hidden + 1))");
        var batch = sources.Option("batch-size", d.BatchSize, "rows per worker per step (sets the compute time)");
        var compression = sources.Option("compression", d.Compression, "compress pushes and pulls: none | topk | sign (adds test accuracy, compression CPU and bytes per step)");
        var topK = sources.Option("topk-ratio", d.TopKRatio, "topk: share of the values a message carries");
        var dataRows = sources.Option("rows", d.Rows, "rows of the synthetic data set (0: a few per worker; more to measure accuracy)");
        var separation = sources.Option("separation", d.Separation, "class separation of the synthetic data set (larger: more learnable)");
        var fullPullEvery = sources.Option("full-pull-every", d.FullPullEvery, "compressed pulls: every this many pulls of a worker carry the exact parameters");
        var momentum = sources.Option("momentum-correction", d.Momentum, "compressed pushes: momentum correction in [0, 1) (0: off)");
        var csv = new Option<string?>("--csv") { Description = "write the results as CSV to this file", DefaultValueFactory = _ => "results/bench-network.csv" };
        var plotDir = new Option<string?>("--plot-dir") { Description = "write the PNG plots (step time, push latency p99) into this folder", DefaultValueFactory = _ => "results" };
        var timelineDir = new Option<string?>("--timeline-dir") { Description = "write each scenario's server-link timeline (link rate in/out every 10 ms beside each worker's pull, compute and push) as CSV and PNG into this folder" };
        var pieces = new PieceSettings(sources);   // the pieces scenarios' piece size and credit (off: auto)
        pieces.AddTo(command);
        foreach (var o in new Option[] { workers, features, classes, steps, rate, concurrency, scenarios, delay, hidden, batch, compression, topK, dataRows, separation, fullPullEvery, momentum, csv, plotDir, timelineDir }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var options = new NetworkBenchmarkOptions(parse.GetValue(workers), parse.GetValue(features), parse.GetValue(classes), parse.GetValue(steps),
                parse.GetValue(rate), parse.GetValue(concurrency),
                parse.GetValue(scenarios)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), parse.GetValue(delay), parse.GetValue(hidden), parse.GetValue(batch),
                parse.GetValue(compression)!, parse.GetValue(topK), parse.GetValue(dataRows), parse.GetValue(separation),
                parse.GetValue(fullPullEvery), parse.GetValue(momentum), parse.GetValue(timelineDir), pieces.Bind(parse));
            var rows = await NetworkBenchmark.RunAsync(options, log, line => Console.Error.WriteLine(line), ct);
            BenchOutput.Write(AnsiConsole.Console, $"network: {options.Parameters:N0} parameters, {options.Workers} workers", rows, r => $"{r.Scenario} {r.Schedule}", r => r.StepMeanS,
                "mean step time, s", parse.GetValue(csv), parse.GetValue(plotDir) is { } dir ? Path.Combine(dir, "bench-network-step.png") : null);
            if (parse.GetValue(plotDir) is { } folder)
            {
                string path = Path.Combine(folder, "bench-network-push-p99.png");
                BenchOutput.WriteBarPlot(path, "network: push latency p99, from the first byte (round-robin turn waits apart)", [.. rows.Select(r => $"{r.Scenario} {r.Schedule}")], [.. rows.Select(r => r.PushP99S)], "p99 push latency, s");
                AnsiConsole.Console.WriteLine($"plot written to {Path.GetFullPath(path)}");
            }
            return 0;
        }));
        return command;
    }
}
