using GpuPs.Cli.Cluster;
using GpuPs.Cli.Commands;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Bench.Network;

/// <summary>
/// <c>gpups bench network</c>: training (BSP; ASP and SSP in the per-push scenarios, whose results count a round of
/// n pushes as a step) of a synthetic softmax model with real <c>gpups server</c> and <c>gpups worker</c> processes, each in its own network namespace of a <see cref="NetworkLab"/> whose links are shaped
/// with tc tbf, per <see cref="NetworkScenario"/>. Shard 0 is polled for its step times from the root namespace (over
/// the bridge), the workers write their push latencies to report files, and the bridge-side veth counters give each
/// link's bytes. The servers keep serving until the workers have pulled the final model (over a slow link that takes
/// longer than any fixed linger) and are stopped with the lab, which is torn down after each scenario, whether it
/// succeeded or not.
/// </summary>
public static class NetworkBenchmark
{
    private const int Port = 5000;
    private const int DataPort = 5100;   // with a delay: shard i's data plane, the same port on the server and its proxy

    /// <summary>Runs the chosen scenarios in order; <paramref name="progress"/> gets a line per scenario.</summary>
    /// <exception cref="InvalidOperationException">Namespaces are unavailable here (the reason is the message), or a process failed.</exception>
    public static async Task<IReadOnlyList<NetworkBenchmarkRow>> RunAsync(NetworkBenchmarkOptions options, ILogger log, Action<string> progress, CancellationToken ct)
    {
        if (NetworkLab.Unavailable() is { } reason) throw new InvalidOperationException($"bench network cannot run here: {reason}");
        var all = NetworkScenario.Standard(options.Workers, options.ServerMbit, options.Pieces);
        // "two-nodes" picks both two-nodes-flat and two-nodes-hierarchical.
        var chosen = options.Scenarios is { Count: > 0 } names ? all.Where(s => names.Any(n => s.Name == n || s.Name.StartsWith(n + "-", StringComparison.Ordinal))).ToList() : [.. all];
        if (chosen.Count == 0)
            throw new ArgumentException($"no scenario named {string.Join(", ", options.Scenarios!)}; the scenarios are {string.Join(", ", all.Select(s => s.Name).Distinct())}");
        if (options.DelayMs > 0) progress((await DelayProbe.RunAsync(TimeSpan.FromMilliseconds(options.DelayMs), ct).ConfigureAwait(false)).ToString());
        var rows = new List<NetworkBenchmarkRow>();
        float[]? flatModel = null;
        foreach (var scenario in chosen)
        {
            progress($"{scenario.Name} {scenario.Schedule}: {scenario.Shards} shard(s) on {scenario.ServerMbit} Mbit/s links, {scenario.Workers} workers, {(scenario.Layered ? options.LayeredParameters : options.Parameters):N0} parameters, {options.Steps} steps ...");
            float[]? model = null;
            var row = await RunScenarioAsync(scenario, options, log, ct, m => model = m).ConfigureAwait(false);
            if (scenario.Hierarchical && flatModel is not null && model is not null)
                row = row with { MaxAbsDiffVsFlat = flatModel.Zip(model, (a, b) => (double)Math.Abs(a - b)).Max() };
            if (scenario.Nodes > 0 && !scenario.Hierarchical) flatModel = model;
            progress($"  step mean {row.StepMeanS:F3} s (link bound {row.LinkBoundS:F3} s, compute {row.ComputeS:F3} s), push p50 {row.PushP50S:F3} s, p99 {row.PushP99S:F3} s from the first byte"
                + (row.TurnPeak > 0 ? $"; turn wait {row.TurnWaitS:F3} s a step, at most {row.TurnPeak} in flight, {row.TurnsPassed} turns passed" : ""));
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>One scenario in a fresh lab; <paramref name="finalModel"/>, if given, gets the final parameters (all shards).</summary>
    public static async Task<NetworkBenchmarkRow> RunScenarioAsync(NetworkScenario scenario, NetworkBenchmarkOptions options, ILogger log, CancellationToken ct,
        Action<float[]>? finalModel = null)
    {
        var settings = new TrainSettings
        {
            Dataset = $"synthetic:rows={(options.Rows > 0 ? options.Rows : Math.Max(2 * options.Classes, scenario.Workers * Math.Max(20, 2 * options.BatchSize)))},features={options.Features},classes={options.Classes}{(options.Separation != 1 ? FormattableString.Invariant($",separation={options.Separation}") : "")}",
            Model = scenario.Layered ? Kernels.ModelKind.Mlp : Kernels.ModelKind.Softmax, Hidden = options.Hidden, Workers = scenario.Workers,
            Servers = scenario.Shards, Mode = scenario.Mode, Steps = options.Steps, BatchSize = options.BatchSize, LearningRate = 0.1f, Seed = 7,
            Accelerator = Kernels.AcceleratorChoice.Simd, Schedule = scenario.JobSchedule, PushConcurrency = options.PushConcurrency, HeartbeatTimeoutMs = 60_000, StepTimeoutMs = 300_000,
            Compression = options.Compression, PullCompression = options.Compression, TopKRatio = options.TopKRatio,
            FullPullEvery = options.FullPullEvery, MomentumCorrection = options.Momentum,
        };
        var reports = Directory.CreateTempSubdirectory("gpups-bench-network-");
        using var lab = NetworkLab.Create(log);
        var children = new List<ChildProcess>();
        var proxies = new List<DelayProxy>();
        try
        {
            var servers = Enumerable.Range(0, scenario.Shards).Select(i => lab.AddHost($"server{i}", scenario.ServerMbit)).ToArray();
            var nodes = Enumerable.Range(0, scenario.Nodes).Select(n => lab.AddHost($"node{n}", scenario.ServerMbit)).ToArray();
            var workers = Enumerable.Range(0, scenario.Workers).Select(w => scenario.Nodes > 0
                ? nodes[w * scenario.Nodes / scenario.Workers]
                : lab.AddHost($"worker{w}", w == 0 ? scenario.SlowWorkerMbit : null)).ToArray();
            string[] job = [.. JobOptions.ToArguments(settings)];
            var serverProcesses = new List<ChildProcess>();
            for (int i = 0; i < servers.Length; i++)
            {
                // Behind a delay proxy the server listens on every address, so that it advertises no data host and workers
                // reach its data plane where they reached it: at the proxy.
                string[] listen = options.DelayMs > 0 ? ["--urls", $"http://0.0.0.0:{Port}", "--data-port", $"{DataPort + i}"] : ["--urls", $"http://{servers[i].Address}:{Port}"];
                var server = ChildProcess.Start(servers[i].Name, ["server", .. listen, "--shard-index", $"{i}", "--insecure",
                    "--keep-serving", .. job, .. PieceSettings.Arguments(scenario.Pieces)], null, log, servers[i].Launcher);
                children.Add(server);
                serverProcesses.Add(server);
                await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(120), ct).ConfigureAwait(false);
            }
            string addresses = string.Join(',', options.DelayMs > 0
                ? servers.Select((s, i) => StartDelayProxies(lab, s, i, TimeSpan.FromMilliseconds(options.DelayMs), proxies))
                : servers.Select(s => $"http://{s.Address}:{Port}"));
            string[] topology = scenario.Hierarchical
                ? await NodeAggregators.StartAsync(nodes, scenario, addresses, reports.FullName, children, log, ct).ConfigureAwait(false)
                : [];
            var before = lab.Hosts.Select(h => (h.BytesIn, h.BytesOut)).ToArray();
            using var timeline = LinkTimeline.Start(servers[0]);
            var workerProcesses = workers.Select((host, w) => ChildProcess.Start($"worker{w}", ["worker", "--server", addresses, "--insecure", "--worker-id", $"{w}",
                "--accelerator", "simd", "--call-timeout-ms", "300000", "--report", Path.Combine(reports.FullName, $"worker{w}.json"), .. topology,
                .. PieceSettings.Arguments(scenario.Pieces), "--overlap", scenario.Overlap.ToString().ToLowerInvariant()], null, log, host.Launcher)).ToList();
            children.AddRange(workerProcesses);

            await using var observer = new GrpcShardClient($"http://{servers[0].Address}:{Port}", JobAuth.Insecure);
            var done = Task.WhenAll(workerProcesses.Select(p => p.WaitForSuccessAsync(ct)));
            StatusReply? status = null;
            while (!done.IsCompleted)
            {
                await Task.WhenAny(done, Task.Delay(250, ct)).ConfigureAwait(false);
                try { status = await observer.StatusAsync(ct, TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
                catch (Core.Shards.ShardException) { }   // busy link: the next poll will do
            }
            // A server that ended first explains a failed worker better than the worker can.
            if (serverProcesses.FirstOrDefault(s => s.HasExited) is { } ended && !done.IsCompletedSuccessfully)
                throw ended.Failure($"ended with code {await ended.WaitForExitAsync(ct).ConfigureAwait(false)} before the workers");
            await done.ConfigureAwait(false);
            status = await observer.StatusAsync(ct, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            var after = lab.Hosts.Select(h => (h.BytesIn, h.BytesOut)).ToArray();
            timeline.Dispose();
            var workerReports = workers.Select((_, w) => WorkerReportFile.Read(Path.Combine(reports.FullName, $"worker{w}.json"))).ToArray();
            var phases = workerReports.Select(r => r.StepPhases ?? []).ToArray();
            var (inBusy, outBusy) = BusyAfterStepZero(timeline, phases);
            if (options.TimelineDir is { } dir) timeline.Write(Path.Combine(dir, $"timeline-{scenario.Name}-{scenario.Schedule}"), phases);
            var latencies = workerReports.SelectMany(r => r.PushLatencies.Skip(1)).ToArray();
            var model = await FinalModel.PullAsync(servers.Select(s => $"http://{s.Address}:{Port}").ToArray(), options.Steps, ct).ConfigureAwait(false);
            finalModel?.Invoke(model);
            // Per-push updates: shard 0 closes a step at every push; n of them are one round, the step of these results.
            int perStep = scenario.PerPush ? scenario.Workers : 1;
            var stepSeconds = status.StepSeconds.Chunk(perStep).Where(c => c.Length == perStep).Select(c => c.Sum()).ToArray();
            var row = Summarise(scenario, options, stepSeconds, latencies, lab.Hosts, before, after) with
            {
                ServerInMBPerStep = (after[0].BytesIn - before[0].BytesIn) / (double)stepSeconds.Length / 1e6,
                Mode = settings.ToDefinition().Mode,
                FinalLoss = status.StepLoss.TakeLast(perStep).DefaultIfEmpty(double.NaN).Average(),
                ModelSha256 = FinalModel.Hash(model),
                DelayMs = options.DelayMs,
                ComputeS = PerStep(workerReports, r => r.ComputeSeconds),
                PullS = PerStep(workerReports, r => r.PullSeconds),
                PushS = PerStep(workerReports, r => r.PushSeconds),
                InBusyShare = inBusy, OutBusyShare = outBusy,
                TurnWaitS = PerStep(workerReports, r => r.SlotWaitSeconds),
                TurnPeak = status.PushTurnsPeak, TurnsPassed = status.PushTurnsPassed,
            };
            return options.Compression == "none" && options.Rows == 0 ? row : CompressionColumns.Add(row, options.Compression, settings, workerReports, model);
        }
        finally
        {
            foreach (var child in children) await child.DisposeAsync().ConfigureAwait(false);
            foreach (var proxy in proxies) await proxy.DisposeAsync().ConfigureAwait(false);
            reports.Delete(recursive: true);
        }
    }

    /// <summary>The workers' mean of <paramref name="seconds"/> per step (workers that ran no step left out).</summary>
    private static double PerStep(IEnumerable<WorkerReportFile.Contents> reports, Func<WorkerReportFile.Contents, double> seconds) =>
        reports.Where(r => r.Steps > 0).Select(r => seconds(r) / r.Steps).DefaultIfEmpty(0).Average();

    /// <summary>
    /// The server link's busy shares each way from the first pull of step 1 (step 0 holds start-up and JIT) to the last
    /// push's answer, as the workers' step timelines place them.
    /// </summary>
    private static (double In, double Out) BusyAfterStepZero(LinkTimeline timeline, Worker.WorkerStepPhases[][] phases)
    {
        var steps = phases.SelectMany(p => p).Where(p => p.StartedAt > 0 && p.Step > 0).ToArray();
        return steps.Length == 0 ? (double.NaN, double.NaN)
            : timeline.BusyShares(steps.Min(p => p.StartedAt - p.PullSeconds), steps.Max(p => p.StartedAt + p.ComputeSeconds + p.EncodeSeconds + p.PushSeconds));
    }

    /// <summary>
    /// Delay proxies for shard <paramref name="index"/>'s gRPC and data-plane ports on the lab's bridge address; returns
    /// the address workers use for it.
    /// </summary>
    private static string StartDelayProxies(NetworkLab lab, LabHost server, int index, TimeSpan delay, List<DelayProxy> proxies)
    {
        var (bridge, target) = (System.Net.IPAddress.Parse(lab.BridgeAddress), System.Net.IPAddress.Parse(server.Address));
        proxies.Add(DelayProxy.Start(new(bridge, Port + index), new(target, Port), delay));
        proxies.Add(DelayProxy.Start(new(bridge, DataPort + index), new(target, DataPort + index), delay));
        return $"http://{lab.BridgeAddress}:{Port + index}";
    }

    private static NetworkBenchmarkRow Summarise(NetworkScenario scenario, NetworkBenchmarkOptions options, double[] stepSeconds, double[] pushLatencies,
        IReadOnlyList<LabHost> hosts, (long In, long Out)[] before, (long In, long Out)[] after)
    {
        var steps = stepSeconds.Skip(1).Order().ToArray();
        var pushes = pushLatencies.Order().ToArray();
        if (steps.Length == 0 || pushes.Length == 0) throw new InvalidOperationException("the run closed too few steps to measure; raise --steps");
        // The busiest shaped link direction, in bytes per step (the whole run's bytes over its steps).
        var (link, bytes, rate) = hosts.Select((h, i) => (h, i)).Where(x => x.h.RateMbit is not null)
            .SelectMany(x => new[] { ($"{x.h.Name} in", after[x.i].In - before[x.i].In, x.h.RateMbit!.Value), ($"{x.h.Name} out", after[x.i].Out - before[x.i].Out, x.h.RateMbit!.Value) })
            .MaxBy(x => x.Item2 / x.Item3);
        double bytesPerStep = (double)bytes / stepSeconds.Length;
        double bound = bytesPerStep * 8 / (rate * 1e6);
        double mean = steps.Average();
        return new NetworkBenchmarkRow(scenario.Name, scenario.Schedule, scenario.Shards, scenario.Workers, scenario.Layered ? options.LayeredParameters : options.Parameters, scenario.ServerMbit,
            scenario.SlowWorkerMbit ?? 0, stepSeconds.Length, mean, StepSeries.Quantile(steps, 0.5), StepSeries.Quantile(steps, 0.99),
            pushes.Average(), StepSeries.Quantile(pushes, 0.5), StepSeries.Quantile(pushes, 0.99),
            link, bytesPerStep / 1e6, bound, mean / bound, bytes * 8 / (rate * 1e6) / stepSeconds.Sum());
    }
}
