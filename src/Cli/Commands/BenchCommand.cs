using System.CommandLine;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Server;
using GpuPs.Worker.Transport;
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
        bench.Subcommands.Add(Wire(sources, global));
        return bench;
    }

    private static (Option<string?> Csv, Option<string?> Plot) OutputOptions(Command command, string name)
    {
        var csv = new Option<string?>("--csv") { Description = "write the results as CSV to this file", DefaultValueFactory = _ => $"results/bench-{name}.csv" };
        var plot = new Option<string?>("--plot") { Description = "write a PNG bar chart to this file", DefaultValueFactory = _ => $"results/bench-{name}.png" };
        command.Options.Add(csv);
        command.Options.Add(plot);
        return (csv, plot);
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

    private static Command Wire(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("wire", "Push and pull of a tensor over loopback gRPC, against raw TCP and an in-process copy; server aggregation against memcpy.");
        var (csv, plot) = OutputOptions(command, "wire");
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var results = await WireBenchmark.RunAsync(new WireBenchmarkOptions
            {
                StartServer = async (floats, token) =>
                {
                    var host = await GpuPsServerHost.StartWireSinkAsync(floats, log, token);
                    return (host.Address, host);
                },
            }, line => Console.Error.WriteLine(line), ct);
            BenchOutput.Write(AnsiConsole.Console, "wire: loopback throughput", results, r => r.Name, r => r.MegabytesPerSecond,
                "MB/s", parse.GetValue(csv), parse.GetValue(plot));
            return 0;
        }));
        return command;
    }
}
