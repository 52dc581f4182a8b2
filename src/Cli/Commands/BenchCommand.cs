using System.CommandLine;
using System.Globalization;
using GpuPs.Cli.Bench;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Kernels;
using GpuPs.Server;
using GpuPs.Benchmarks.Kernels;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups bench …</c>: benchmarks that report speeds as ratios to a baseline measured in the same run.</summary>
public static class BenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var bench = new Command("bench", "Benchmarks (ratios against a baseline run in the same process); each can write CSV and a PNG plot.");
        bench.Subcommands.Add(Kernels(sources, global));
        bench.Subcommands.Add(GpuBenchCommand.Create(sources, global));
        bench.Subcommands.Add(WireBenchCommand.Create(sources, global));
        bench.Subcommands.Add(Stragglers(sources, global));
        bench.Subcommands.Add(Aggregation(sources, global));
        bench.Subcommands.Add(Load(sources, global));
        bench.Subcommands.Add(NetworkBenchCommand.Create(sources, global));
        bench.Subcommands.Add(ChaosBenchCommand.Create(sources, global));
        bench.Subcommands.Add(OverheadBenchCommand.Create(sources, global));
        bench.Subcommands.Add(Hetero(sources, global));
        return bench;
    }

    internal static (Option<string?> Csv, Option<string?> Plot) OutputOptions(Command command, string name)
    {
        var csv = new Option<string?>("--csv") { Description = "write the results as CSV to this file", DefaultValueFactory = _ => $"results/bench-{name}.csv" };
        var plot = new Option<string?>("--plot") { Description = "write a PNG bar chart to this file", DefaultValueFactory = _ => $"results/bench-{name}.png" };
        command.Options.Add(csv);
        command.Options.Add(plot);
        return (csv, plot);
    }

    private static Command Aggregation(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("aggregation", "Server cost of one step (pushes, decode, update) for a 1M-parameter model per aggregation rule, against memcpy and a real coded step.");
        var (csv, plot) = OutputOptions(command, "aggregation");
        var reps = sources.Option("repetitions", 9, "timed steps per scheme (median reported)");
        command.Options.Add(reps);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var results = await AggregationBenchmark.RunAsync(parse.GetValue(reps), log, line => Console.Error.WriteLine(line), ct);
            BenchOutput.Write(AnsiConsole.Console, "server aggregation per step, 1M parameters, 8 workers", results, r => r.Scheme, r => r.ServerMsPerStep,
                "ms per step (server only)", parse.GetValue(csv), parse.GetValue(plot));
            return 0;
        }));
        return command;
    }

    private static Command Load(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("load", "Many concurrent workers against one server process (ASP): push latency mean/p50/p99/max, throughput, and whether every update was applied exactly once.");
        var (csv, plot) = OutputOptions(command, "load");
        var workers = sources.Option("workers", 64, "concurrent clients");
        var steps = sources.Option("steps", 1000, "pushes per client");
        var parameters = sources.Option("parameters", 4096, "floats per push (the model's size)");
        command.Options.Add(workers);
        command.Options.Add(steps);
        command.Options.Add(parameters);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var results = await LoadBenchmark.RunAsync(parse.GetValue(workers), parse.GetValue(steps), parse.GetValue(parameters), log,
                line => Console.Error.WriteLine(line), ct);
            BenchOutput.Write(AnsiConsole.Console, "load: concurrent workers against one server", results, r => r.Measure, r => r.Value,
                "value (see unit)", parse.GetValue(csv), parse.GetValue(plot));
            return 0;
        }));
        return command;
    }

    private static Command Hetero(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("hetero", "Mixed worker speeds from real slowdowns: uniform vs proportional BSP vs the heterogeneity-aware code, with and without an s = 1 straggler, and a worker dropping to 1/4 speed mid-run; step time against the ideal bound (total work / total throughput).");
        var (csv, plot) = OutputOptions(command, "hetero");
        var factors = sources.Option("factors", "4+2+1", "per worker, how many times it computes each gradient (speeds 1/factor)");
        var steps = sources.Option("steps", 40, "steps per run (after the drop, for the drop runs)");
        var warmup = sources.Option("warmup", 10, "steps left out of the means");
        var delay = sources.Option("straggler-delay", 0.3, "seconds the s = 1 straggler is late every step");
        var dropAt = sources.Option("drop-at", 20, "step at which worker 0 slows down in the drop runs");
        var slowdown = sources.Option("slowdown", "cgroup", "cgroup: each worker and the server a process in its own CPU-quota cgroup, quotas in proportion to the speeds (root; falls back to throttle with the reason) | throttle: kernel repeats in one process");
        var workerCores = sources.Option("worker-cores", 0.0, "cgroup slowdown: CPUs the workers' quotas sum to (0: 90 % of the cores less the server's)");
        var serverCores = sources.Option("server-cores", 0.3, "cgroup slowdown: the server process's CPU quota");
        var dataset = sources.Option("dataset", "", "data set trained on; compute should dominate a step (default: synthetic, 20000 rows with throttle, 300000 with cgroup)");
        var scenarios = sources.Option("scenarios", "", $"comma-separated scenarios to run (default all; the unit run always runs): {string.Join(", ", HeteroBenchmark.ScenarioKeys)}");
        var accelerator = WorkerAccelerators.Option(sources, "simd", "the workers' compute device");
        foreach (var o in new Option[] { factors, steps, warmup, delay, dropAt, slowdown, workerCores, serverCores, dataset, scenarios, accelerator }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var list = parse.GetValue(factors)!.Split('+').Select(f => int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v
                : throw new SettingsException($"--factors: '{f}' is not a whole number >= 1; give one per worker, e.g. 4+2+1")).ToArray();
            var how = parse.GetValue(slowdown) switch
            {
                "cgroup" => HeteroSlowdown.Cgroup,
                "throttle" => HeteroSlowdown.Throttle,
                var other => throw new SettingsException($"--slowdown: '{other}' is not cgroup or throttle"),
            };
            if (parse.GetValue(workerCores) is < 0 or double.NaN || !(parse.GetValue(serverCores) > 0))
                throw new SettingsException("--worker-cores must be >= 0 (0: the default) and --server-cores > 0");
            var options = new HeteroBenchmarkOptions(list, parse.GetValue(steps), parse.GetValue(warmup), parse.GetValue(delay), parse.GetValue(dropAt),
                Dataset: parse.GetValue(dataset) is { Length: > 0 } d ? d : null, Slowdown: how, WorkerCores: parse.GetValue(workerCores), ServerCores: parse.GetValue(serverCores),
                Scenarios: parse.GetValue(scenarios) is { Length: > 0 } named ? named.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null)
            {
                Accelerator = WorkerAccelerators.Parse(parse.GetValue(accelerator)!),
                AnatomyCsv = parse.GetValue(csv) is { Length: > 0 } table ? Path.ChangeExtension(table, null) + "-steps.csv" : null,
            };
            var rows = await HeteroBenchmark.RunAsync(options, line => Console.Error.WriteLine(line), log, ct);
            BenchOutput.Write(AnsiConsole.Console, $"hetero: {list.Length} workers, factors {parse.GetValue(factors)}", rows, r => r.Scenario, r => r.MeanMs,
                "mean step time, ms", parse.GetValue(csv), parse.GetValue(plot));
            return 0;
        }));
        return command;
    }

    private static Command Kernels(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("kernels", "Each ILGPU kernel (CPU accelerator, and CUDA where present) as a ratio to its SIMD TensorPrimitives implementation.");
        var (csv, plot) = OutputOptions(command, "kernels");
        var reps = sources.Option("repetitions", 7, "timed repetitions per kernel (median reported)");
        command.Options.Add(reps);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(() =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var results = KernelBenchmark.Run(new KernelBenchmarkOptions { Repetitions = parse.GetValue(reps) }, line => Console.Error.WriteLine(line));
            BenchOutput.Write(AnsiConsole.Console, "kernels: ILGPU vs SIMD", results, r => $"{r.Kernel} [{r.Backend}]", r => r.RatioToSimd,
                "time / SIMD time", parse.GetValue(csv), parse.GetValue(plot));
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Stragglers(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("stragglers",
            "Training runs per (scheme, s, straggler model) on SIMD workers (or --accelerator): step-time distribution, time to a target loss, bytes, drops, "
            + "each against the load-aware bound (coded: the first decodable responder set); a table with a legend of its columns, "
            + "a CSV with every column, PNG plots and the verdicts on the targets.");
        var d = new StragglerBenchmarkOptions();
        var workers = sources.Option("workers", d.Workers, "n: workers (and data partitions)");
        var stragglers = sources.Option("stragglers", string.Join(',', d.Stragglers), "comma-separated s values for the schemes that tolerate stragglers");
        var schemes = sources.Option("schemes", string.Join(',', d.Schemes.Select(x => x.Name)), $"comma-separated schemes: {string.Join(", ", StragglerScheme.All.Select(x => x.Name))}");
        var delays = sources.Option("delays", string.Join(';', d.Delays), "semicolon-separated straggler specs, without unit= (see gpups train --straggler-model)");
        var steps = sources.Option("steps", d.Steps, "steps per run");
        var unit = sources.Option("unit", d.UnitSeconds, "simulated compute per partition, seconds");
        var seed = sources.Option("seed", d.Seed, "seed of data, initialisation and straggler draws");
        var transport = sources.Option("transport", d.Transport, "how tensors travel: auto (the TCP data plane), grpc or tcp");
        var accelerator = WorkerAccelerators.Option(sources, d.Accelerator.ToString(), "the workers' compute device");
        var target = sources.Option<double?>("target-loss", null, $"training loss for the time-to-target column (default {d.TargetFactor} × the final loss of BSP without delays)");
        var quick = sources.Option("quick", false, "a ~1-minute smoke configuration (bsp, backup, coded-fractional, coded-cyclic, multi-message, asp; s = 1, 2; "
            + "none and persistent:workers=2+5,delay=0.5; 12 steps); other options still override it");
        var csv = new Option<string?>("--csv") { Description = "write every run as CSV to this file", DefaultValueFactory = _ => "results/bench-stragglers.csv" };
        var plotDir = new Option<string?>("--plot-dir") { Description = "write the PNG plots into this folder", DefaultValueFactory = _ => "results" };
        foreach (var o in new Option[] { workers, stragglers, schemes, delays, steps, unit, seed, transport, accelerator, target, quick, csv, plotDir })
            command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var o = parse.GetValue(quick) ? StragglerBenchmarkOptions.Quick : new StragglerBenchmarkOptions();
            // Explicit options override the preset; the preset supplies the rest.
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            o = o with
            {
                Workers = Given(workers) ? parse.GetValue(workers) : o.Workers,
                Stragglers = Given(stragglers) ? List(parse.GetValue(stragglers)!, ',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList() : o.Stragglers,
                Schemes = Given(schemes) ? List(parse.GetValue(schemes)!, ',').Select(StragglerScheme.Parse).ToList() : o.Schemes,
                Delays = Given(delays) ? List(parse.GetValue(delays)!, ';') : o.Delays,
                Steps = Given(steps) ? parse.GetValue(steps) : o.Steps,
                UnitSeconds = Given(unit) ? parse.GetValue(unit) : o.UnitSeconds,
                Seed = Given(seed) ? parse.GetValue(seed) : o.Seed,
                Transport = parse.GetValue(transport),
                Accelerator = WorkerAccelerators.Parse(parse.GetValue(accelerator)!),
                TargetLoss = parse.GetValue(target),
            };
            var result = await StragglerBenchmark.RunAsync(o, line => Console.Error.WriteLine(line), log, ct);
            // Delay specs run to 40 characters: a console without a known width (output to a file) is 80 wide and would wrap them.
            var console = AnsiConsole.Console;
            if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 160;
            StragglerTable.Write(console, $"stragglers: n = {o.Workers}, {o.Steps} steps per run, unit {o.UnitSeconds * 1e3:G4} ms", result);
            if (parse.GetValue(csv) is string csvPath)
                BenchOutput.WriteCsv(console, csvPath, result.Rows);
            if (parse.GetValue(plotDir) is string dir)
                foreach (var path in StragglerPlots.Write(result, dir))
                    console.WriteLine($"plot written to {Path.GetFullPath(path)}");
            foreach (var line in StragglerTargets.Summarize(result))
                console.WriteLine(line);
            return 0;
        }));
        return command;
    }

    private static List<string> List(string text, char separator) =>
        text.Split(separator, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
}
