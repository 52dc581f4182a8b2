using System.CommandLine;
using GpuPs.Cli.Bench.Overhead;
using GpuPs.Cli.Settings;
using GpuPs.Worker.Transport;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups bench overhead</c>: the no-delay step of each mode and its per-step timeline, as a table, CSVs and a stacked-bar plot.</summary>
public static class OverheadBenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("overhead",
            "The fixed cost of a step: 8 workers, logistic regression on synthetic 5000 x 100, full batch, one shard, no injected delay, per mode "
            + "(bsp, coded cyclic s=2, asp). Step time mean/p50/p99 (the shard's own) and where it goes: the workers' pull, compute, encode and push "
            + "per step and the shard's update. Writes the summary CSV, every step's timeline as CSV, and a stacked-bar plot.");
        var modes = sources.Option("modes", "bsp,coded,asp", "comma-separated modes: bsp, coded, asp (or any --mode)");
        var steps = sources.Option("steps", 2000L, "steps per mode");
        var warmup = sources.Option("warmup", 1000, "leading steps left out of the statistics (JIT, connections, pools; also where tiered compilation is turned on with DOTNET_TieredCompilation=1)");
        var transport = sources.Option("transport", TransportChoice.Tcp, "how tensors travel: tcp (the data plane), grpc or auto");
        var processes = sources.Option("processes", false, "each server and worker its own process (no worker timeline then)");
        var csv = new Option<string?>("--csv") { Description = "write the summary as CSV to this file", DefaultValueFactory = _ => "results/bench-overhead.csv" };
        var timelineCsv = new Option<string?>("--timeline-csv") { Description = "write every step's timeline as CSV to this file", DefaultValueFactory = _ => "results/bench-overhead-timeline.csv" };
        var plot = new Option<string?>("--plot") { Description = "write the stacked-bar PNG of each mode's step to this file", DefaultValueFactory = _ => "results/bench-overhead.png" };
        foreach (var o in new Option[] { modes, steps, warmup, transport, processes, csv, timelineCsv, plot }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var options = new OverheadBenchmarkOptions(parse.GetValue(modes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                parse.GetValue(steps), parse.GetValue(warmup), parse.GetValue(transport), parse.GetValue(processes));
            var (rows, timeline) = await OverheadBenchmark.RunAsync(options, log, line => Console.Error.WriteLine(line), ct);
            BenchOutput.Write(AnsiConsole.Console, "overhead: no-delay step, 8 workers, logistic 5000 x 100, full batch, 1 shard", rows, r => r.Mode, r => r.StepMeanMs,
                "mean step, ms", parse.GetValue(csv), null);
            if (parse.GetValue(timelineCsv) is { } path) BenchOutput.WriteCsv(AnsiConsole.Console, path, timeline);
            if (parse.GetValue(plot) is { } png)
            {
                OverheadPlot.Write(png, $"overhead: where a step goes ({options.Transport.ToString().ToLowerInvariant()})", rows);
                AnsiConsole.Console.WriteLine($"plot written to {Path.GetFullPath(png)}");
            }
            return 0;
        }));
        return command;
    }
}
