using System.CommandLine;
using GpuPs.Benchmarks.Wire;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Server.DataPlane;
using Serilog.Events;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups bench wire</c>: push and pull of one tensor between this process and a server process per tensor size, over
/// each path, against the raw socket measured in the same run.
/// </summary>
public static class WireBenchCommand
{
    public static Command Create(SettingSources sources, GlobalOptions global)
    {
        var command = new Command("wire",
            "Push and pull of one tensor (4 MiB and 1 KiB) between this process and a server process, over a raw socket (the reference), "
            + "gRPC, the framed TCP data plane (tcp; tcp-nocheck: --frame-checksum none) and the data plane through shared memory, and over TLS (raw-tls, grpc-tls, and tls: the data plane of an https:// server), "
            + "taking turns: mean MB/s over every operation, p50 and p99 latency, CPU time per operation "
            + "in each process; then the payload's steps (XXH3 pass, copy, pooled buffer) timed alone.");
        var csv = new Option<string?>("--csv") { Description = "write the results as CSV to this file", DefaultValueFactory = _ => "results/bench-wire.csv" };
        var plot = new Option<string?>("--plot") { Description = "write a PNG bar chart to this file", DefaultValueFactory = _ => "results/bench-wire.png" };
        var seconds = new Option<double>("--seconds") { Description = "timed run of each path and operation (every operation counts)", DefaultValueFactory = _ => 3 };
        var paths = new Option<string>("--paths")
        {
            Description = $"comma-separated paths to measure: {string.Join(", ", WireBenchmark.Paths)}",
            DefaultValueFactory = _ => string.Join(',', WireBenchmark.Paths),
        };
        var sizes = new Option<string>("--sizes") { Description = "comma-separated tensor sizes in float32 values", DefaultValueFactory = _ => "1048576,256" };
        var peerCsv = new Option<string[]>("--peer-csv")
        {
            Description = "add the rows of another system's wire CSV (same columns, e.g. benchmarks/pslite/run.sh's ps-lite rows), each compared with this run's raw socket",
            DefaultValueFactory = _ => [],
        };
        var serve = new Option<int>("--serve") { Description = "internal: run the server side for tensors of this many floats and wait", Hidden = true };
        foreach (var o in new Option[] { csv, plot, seconds, paths, sizes, peerCsv, serve }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            using var log = global.CreateLogger(parse, "bench", LogEventLevel.Warning);
            if (parse.GetValue(serve) is > 0 and var floats)
            {
                var token = JobToken.Parse(Environment.GetEnvironmentVariable(AuthOptions.TokenVariable) ?? "");
                await using var server = await WireSinkServer.StartAsync(floats, JobAuth.WithToken(token), log, ct);
                Console.WriteLine($"{ChildProcess.ListeningPrefix}{server.Url}");
                try { await Task.Delay(Timeout.Infinite, ct); }
                catch (OperationCanceledException) { }
                return 0;
            }
            var options = new WireBenchmarkOptions
            {
                Duration = TimeSpan.FromSeconds(parse.GetValue(seconds)),
                Paths = List(parse.GetValue(paths)!),
                TensorFloats = List(parse.GetValue(sizes)!).Select(s => int.TryParse(s, out var n) && n > 0
                    ? n : throw new SettingsException($"--sizes: '{s}' is not a positive number of float32 values")).ToArray(),
            };
            if (options.Paths.FirstOrDefault(p => !WireBenchmark.Paths.Contains(p)) is { } unknown)
                throw new SettingsException($"--paths: '{unknown}' is not a path; the paths are {string.Join(", ", WireBenchmark.Paths)}");
            var peerFiles = parse.GetValue(peerCsv)!;
            foreach (var file in peerFiles) WirePeerRows.Read(file, []); // a bad file fails before the run, not after it
            var auth = JobAuth.WithToken(JobToken.Generate());
            var results = new List<WireBenchmarkResult>();
            foreach (var size in options.TensorFloats)
            {
                await using var server = ChildProcess.Start($"wire server ({size} floats)", ["bench", "wire", "--serve", size.ToString()], auth.Token, log);
                var url = await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct);
                results.AddRange(await WireBenchmark.RunAsync(url, size, auth, options, line => Console.Error.WriteLine(line), ct, () => server.ProcessorTime));
            }
            // Each peer row beside this run's rows of the same operation and size (OrderBy is stable).
            var own = results.ToArray();
            int Group(WireBenchmarkResult r) => Array.FindIndex(own, o => o.Operation == r.Operation && o.Bytes == r.Bytes) is var i and >= 0 ? i : own.Length;
            results = [.. own.Concat(peerFiles.SelectMany(f => WirePeerRows.Read(f, own))).OrderBy(Group)];
            BenchOutput.Write(AnsiConsole.Console, "wire: server process and client process over loopback", results, r => r.Label, r => r.MeanMBps,
                "mean MB/s", parse.GetValue(csv), parse.GetValue(plot));
            // What the data plane does to the largest payload besides moving it, each step alone: set beside the transfer's time.
            var costs = WireCosts.Measure(options.TensorFloats.Max() * sizeof(float));
            var costsCsv = parse.GetValue(csv) is { } path ? Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + "-costs.csv") : null;
            BenchOutput.Write(AnsiConsole.Console, "wire: payload steps timed alone in this process (least and median of 200)", costs, c => c.Step,
                c => c.MinMicroseconds, "µs", costsCsv, null);
            return 0;
        }));
        return command;
    }

    private static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
