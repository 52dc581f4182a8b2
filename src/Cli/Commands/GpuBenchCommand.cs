using System.CommandLine;
using GpuPs.Benchmarks.Gpu;
using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups bench gpu</c>: device bandwidth, memory-bound kernels and the gradient step on a GPU (issue 14).</summary>
public static class GpuBenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("gpu",
            "On one ILGPU device (CUDA by default): the device-to-device copy bandwidth, the optimizer updates on device-resident vectors "
            + "as a share of it, and the softmax and MLP loss+gradient steps with cuBLAS and with GpuPs's ILGPU matrix-product kernel, "
            + "alone and with the step's transfers, against PyTorch's step timed on the same GPU (benchmarks/gpu/run.sh runs both).");
        var (csv, plot) = BenchCommand.OutputOptions(command, "gpu");
        var d = new GpuBenchmarkOptions();
        var accelerator = sources.Option("accelerator", d.Accelerator, "the ILGPU device: cuda | opencl | cpu (the CPU accelerator, for a smoke run with small sizes)");
        var rows = sources.Option("rows", d.Rows, "rows per gradient step");
        var features = sources.Option("features", d.Features, "features per row");
        var hidden = sources.Option("hidden", d.Hidden, "hidden units of the MLP");
        var classes = sources.Option("classes", d.Classes, "classes");
        var copy = sources.Option("copy-floats", d.CopyLength, "floats per device-to-device copy");
        var vector = sources.Option("vector-floats", d.VectorLength, "floats per vector of the optimizer updates");
        var reps = sources.Option("repetitions", d.Repetitions, "timed repetitions of each measurement (mean, p50, p99)");
        var torch = sources.Option<string?>("torch-reference", null, "CSV of benchmarks/gpu/torch_reference.py from the same GPU: adds the ratio to PyTorch");
        foreach (var o in new Option[] { accelerator, rows, features, hidden, classes, copy, vector, reps, torch }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(() =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            var options = new GpuBenchmarkOptions
            {
                Accelerator = parse.GetValue(accelerator),
                Rows = Positive(parse.GetValue(rows), "--rows"),
                Features = Positive(parse.GetValue(features), "--features"),
                Hidden = Positive(parse.GetValue(hidden), "--hidden"),
                Classes = Math.Max(2, Positive(parse.GetValue(classes), "--classes")),
                CopyLength = Positive(parse.GetValue(copy), "--copy-floats"),
                VectorLength = Positive(parse.GetValue(vector), "--vector-floats"),
                Repetitions = Positive(parse.GetValue(reps), "--repetitions"),
                TorchReference = parse.GetValue(torch),
            };
            var results = GpuBenchmark.Run(options, line => Console.Error.WriteLine(line));
            var console = AnsiConsole.Console;
            if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 200;
            BenchOutput.Write(console, $"gpu: {options.Accelerator}", results, r => $"{r.What} [{r.Products}]", r => r.P50Ms,
                "p50 time, ms", parse.GetValue(csv), parse.GetValue(plot));
            return Task.FromResult(0);
        }));
        return command;
    }

    private static int Positive(int value, string name) =>
        value > 0 ? value : throw new SettingsException($"{name} must be > 0, not {value}");
}
