using System.CommandLine;
using GpuPs.Cli.Bench.Chaos;
using GpuPs.Cli.Settings;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups bench chaos</c>: a seeded coded job on real processes over loopback while faults are injected; the model against a fault-free run.</summary>
public static class ChaosBenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("chaos",
            "A seeded coded job (2 server and 4 worker processes, loopback) while faults are injected one at a time: workers and servers killed "
            + "and restarted (--resume), processes frozen (SIGSTOP/SIGCONT), connections dropped, hostile calls. Prints faults injected and "
            + "survived, recovery times, updates lost, bad inputs refused, peak server memory, and the model against a fault-free run.");
        var seed = sources.Option("seed", 1, "seed of the job and of the faults' kinds, targets and moments");
        var faults = sources.Option("faults", 8, "faults to inject (at most; none in the last fifth of the run)");
        var steps = sources.Option("steps", 300, "steps of the job");
        var timeout = sources.Option("timeout-s", 300, "abandon the run after this many seconds");
        var kinds = sources.Option("kinds", "", $"comma-separated fault kinds to draw from ({string.Join(", ", ChaosBenchmark.Kinds)}); empty: all");
        var csv = new Option<string?>("--csv") { Description = "write one row per fault as CSV to this file", DefaultValueFactory = _ => "results/bench-chaos.csv" };
        var plot = new Option<string?>("--plot") { Description = "write a PNG of each fault's recovery time to this file", DefaultValueFactory = _ => "results/bench-chaos.png" };
        foreach (var o in new Option[] { seed, faults, steps, timeout, kinds, csv, plot }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var result = await ChaosBenchmark.RunAsync(parse.GetValue(seed), parse.GetValue(faults), parse.GetValue(steps),
                parse.GetValue(kinds)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                TimeSpan.FromSeconds(parse.GetValue(timeout)), log, line => Console.Error.WriteLine(line), ct);
            var summary = new Grid().AddColumn().AddColumn()
                .AddRow("faults injected", $"{result.Faults.Count} ({string.Join(", ", result.Faults.GroupBy(f => f.Fault).Select(g => $"{g.Count()} {g.Key}"))})")
                .AddRow("faults survived", $"{result.Survived} (the job moved on after each)")
                .AddRow("recovery time", result.Faults.Count == 0 ? "-" : $"mean {result.Faults.Average(f => f.RecoverySeconds):F2} s, max {result.Faults.Max(f => f.RecoverySeconds):F2} s")
                .AddRow("steps closed", $"{result.Steps}; updates lost: {result.UpdatesLost}")
                .AddRow("model vs fault-free run", $"max |difference| {result.MaxDeviation:G3} (a lost or doubled update would show here)")
                .AddRow("bad inputs", $"{result.BadInputsTried} tried, {result.BadInputsRefused} refused, {result.BadInputsAccepted} accepted")
                .AddRow("peak server memory", $"{result.PeakServerBytes / (1 << 20)} MiB (VmHWM)")
                .AddRow("wall time", $"{result.Seconds:F1} s");
            AnsiConsole.Write(summary);
            BenchOutput.Write(AnsiConsole.Console, "chaos: recovery time per fault", result.Faults, f => $"{f.Fault} ({f.Target})", f => f.RecoverySeconds,
                "recovery time, s", parse.GetValue(csv), parse.GetValue(plot));
            return result.UpdatesLost == 0 && result.BadInputsAccepted == 0 && result.Survived == result.Faults.Count ? 0 : 1;
        }));
        return command;
    }
}
