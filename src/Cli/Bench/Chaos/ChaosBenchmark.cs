using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Kernels;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Bench.Chaos;

/// <summary>One injected fault and what became of it.</summary>
/// <param name="Fault">Its kind: kill-worker, kill-server, freeze-worker, freeze-server, drop-connections, hostile-burst.</param>
/// <param name="Target">Which process or server it hit.</param>
/// <param name="AtSeconds">When, from the start of the run.</param>
/// <param name="Step">The slowest shard's step when it was injected.</param>
/// <param name="RecoverySeconds">From the injection until every shard had closed a step past <paramref name="Step"/>; -1 if never.</param>
public sealed record ChaosFault(string Fault, string Target, double AtSeconds, long Step, double RecoverySeconds);

/// <summary>What a chaos run measured.</summary>
public sealed record ChaosResult(IReadOnlyList<ChaosFault> Faults, int BadInputsTried, int BadInputsRefused, int BadInputsAccepted,
    long Steps, long UpdatesLost, double MaxDeviation, long PeakServerBytes, double Seconds)
{
    /// <summary>Faults after which the job moved on.</summary>
    public int Survived => Faults.Count(f => f.RecoverySeconds >= 0);
}

/// <summary>
/// <c>gpups bench chaos</c>: a seeded coded job (fractional repetition, n = 4, s = 1, full batch, so that any three
/// workers give the exact full gradient) on real processes over loopback — two <c>gpups server</c> shards with checkpoints
/// behind connection-dropping proxies, four <c>gpups worker</c>s with push logs — while faults are injected one at a time
/// at seeded random moments, each after the previous one was recovered from: a worker killed (and restarted under its id),
/// a server killed (and restarted with <c>--resume</c>), a worker or a server frozen (SIGSTOP, then SIGCONT), every
/// connection dropped, a burst of hostile calls. At the end the model is compared with a fault-free run of the same job.
/// Bounded: at most <c>faults</c> faults, and the run is abandoned after <c>timeout</c>.
/// </summary>
public static class ChaosBenchmark
{
    private const int Workers = 4;
    private const int Servers = 2;
    private const int CheckpointEvery = 5;
    /// <summary>The kinds of fault, as <c>--kinds</c> names them.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["kill-worker", "kill-server", "freeze-worker", "freeze-server", "drop-connections", "hostile-burst"];

    /// <summary>
    /// Runs the job with up to <paramref name="faults"/> faults of <paramref name="kinds"/> (all of <see cref="Kinds"/> when
    /// empty), drawn from <paramref name="seed"/>; <paramref name="progress"/> gets a line per fault.
    /// </summary>
    /// <exception cref="ArgumentException">A bad count or an unknown kind.</exception>
    /// <exception cref="TimeoutException">The run did not finish within <paramref name="timeout"/>.</exception>
    public static async Task<ChaosResult> RunAsync(int seed, int faults, int steps, IReadOnlyList<string> kinds, TimeSpan timeout, ILogger log,
        Action<string> progress, CancellationToken ct)
    {
        if (faults < 0 || steps < 20) throw new ArgumentException("faults must be 0 or more and steps at least 20");
        if (kinds.FirstOrDefault(k => !Kinds.Contains(k)) is { } unknown)
            throw new ArgumentException($"unknown fault kind '{unknown}': use {string.Join(", ", Kinds)}");
        if (kinds.Count == 0) kinds = Kinds;
        var settings = new TrainSettings
        {
            Dataset = "synthetic:rows=400,features=8,classes=2", Workers = Workers, Servers = Servers, Steps = steps, BatchSize = 0,
            Mode = SyncMode.Coded, Stragglers = 1, Code = "fractional", Optimizer = OptimizerKind.Momentum, LearningRate = 0.1f,
            Accelerator = AcceleratorChoice.Simd, Seed = (ulong)seed,
            // A worker gives a server up after this much silence: a killed server must be back (restarted, listening) within it.
            HeartbeatTimeoutMs = 10_000,
            StragglerModel = "none:unit=0.03",   // 30 ms of simulated compute per partition: faults land mid-step
        };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var token = JobToken.Generate();
        var random = new Random(seed);
        string directory = Directory.CreateTempSubdirectory("gpups-chaos-").FullName;
        var watch = Stopwatch.StartNew();
        var servers = new ChildProcess[Servers];
        var workers = new ChildProcess[Workers];
        var proxies = new ConnectionDropProxy[Servers];
        var ports = Enumerable.Range(0, Servers).Select(_ => FreePort()).ToArray();
        string[] ServerArgs(int i) => ["server", "--urls", $"http://127.0.0.1:{ports[i]}", "--shard-index", i.ToString(CultureInfo.InvariantCulture),
            "--checkpoint-dir", directory, "--checkpoint-every", CheckpointEvery.ToString(CultureInfo.InvariantCulture),
            "--output", Path.Combine(directory, $"shard-{i}.json"), "--linger-ms", "3000", .. JobOptions.ToArguments(settings)];
        long peak = 0;
        var recorded = new List<ChaosFault>();
        int tried = 0, refused = 0, accepted = 0;
        try
        {
            for (int i = 0; i < Servers; i++)
            {
                servers[i] = ChildProcess.Start($"server {i}", ServerArgs(i), token, log);
                await servers[i].ReadListeningAddressAsync(TimeSpan.FromSeconds(60), deadline.Token).ConfigureAwait(false);
                proxies[i] = ConnectionDropProxy.Start(ports[i]);
            }
            string addresses = string.Join(',', proxies.Select(p => $"http://127.0.0.1:{p.Port}"));
            // 20 attempts: ~75 s of backoff for a killed server to come back. 12 (~31 s) ran out once at load 40-47, where
            // the restarted server process took longer than that to answer.
            string[] WorkerArgs(int w) => ["worker", "--server", addresses, "--accelerator", "simd", "--worker-id", w.ToString(CultureInfo.InvariantCulture),
                "--push-log-steps", (4 * CheckpointEvery).ToString(CultureInfo.InvariantCulture), "--max-retries", "20"];
            for (int w = 0; w < Workers; w++) workers[w] = ChildProcess.Start($"worker {w}", WorkerArgs(w), token, log);

            async Task<long> SlowestStepAsync()
            {
                long slowest = long.MaxValue;
                for (int i = 0; i < Servers; i++)
                {
                    peak = Math.Max(peak, PeakResidentBytes(servers[i].ProcessId));
                    await using var observer = new GrpcShardClient($"http://127.0.0.1:{ports[i]}", JobAuth.WithToken(token),
                        new ShardClientOptions { DefaultTimeout = TimeSpan.FromSeconds(1) });
                    try { slowest = Math.Min(slowest, (await observer.StatusAsync(deadline.Token).ConfigureAwait(false)).Step); }
                    catch (Core.Shards.ShardException) { return -1; }   // down or frozen
                }
                return slowest;
            }

            for (int f = 0; f < faults; )
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 1500)), deadline.Token).ConfigureAwait(false);
                long step = await SlowestStepAsync().ConfigureAwait(false);
                if (step < 0) continue;                  // a status call timed out on a loaded machine: try again
                if (step >= steps * 4 / 5) break;        // leave the end of the run to finish
                f++;
                string kind = kinds[random.Next(kinds.Count)];
                int target = random.Next(kind.Contains("worker") ? Workers : Servers);
                double at = watch.Elapsed.TotalSeconds;
                switch (kind)
                {
                    case "kill-worker":
                        await workers[target].DisposeAsync().ConfigureAwait(false);   // SIGKILL
                        workers[target] = ChildProcess.Start($"worker {target}", WorkerArgs(target), token, log);
                        break;
                    case "kill-server":
                        peak = Math.Max(peak, PeakResidentBytes(servers[target].ProcessId));
                        await servers[target].DisposeAsync().ConfigureAwait(false);   // SIGKILL
                        servers[target] = ChildProcess.Start($"server {target}", [.. ServerArgs(target), "--resume"], token, log);
                        await servers[target].ReadListeningAddressAsync(TimeSpan.FromSeconds(60), deadline.Token).ConfigureAwait(false);
                        break;
                    case "freeze-worker":
                        await FreezeAsync(workers[target].ProcessId, TimeSpan.FromMilliseconds(1500), deadline.Token).ConfigureAwait(false);
                        break;
                    case "freeze-server":   // shorter than the heartbeat timeout: the workers wait for it rather than give it up
                        await FreezeAsync(servers[target].ProcessId, TimeSpan.FromMilliseconds(800), deadline.Token).ConfigureAwait(false);
                        break;
                    case "drop-connections":
                        proxies[target].DropAll();
                        break;
                    default:
                        var burst = await HostileInputs.SendAsync($"http://127.0.0.1:{ports[target]}", token, 50, random, deadline.Token).ConfigureAwait(false);
                        (tried, refused, accepted) = (tried + burst.Tried, refused + burst.Refused, accepted + burst.Accepted);
                        break;
                }
                double recovery = -1;
                while (!deadline.IsCancellationRequested)
                {
                    long now = await SlowestStepAsync().ConfigureAwait(false);
                    if (now > step) { recovery = watch.Elapsed.TotalSeconds - at; break; }
                    await Task.Delay(50, deadline.Token).ConfigureAwait(false);
                }
                recorded.Add(new ChaosFault(kind, $"{(kind.Contains("worker") ? "worker" : "server")} {target}", Math.Round(at, 3), step, Math.Round(recovery, 3)));
                progress($"fault {f}: {kind} on {(kind.Contains("worker") ? "worker" : "server")} {target} at step {step}: recovered in {recovery:F2} s");
            }

            for (int w = 0; w < Workers; w++) await workers[w].WaitForSuccessAsync(deadline.Token).ConfigureAwait(false);
            var final = new List<float>();
            long finalStep = long.MaxValue;
            for (int i = 0; i < Servers; i++)
            {
                peak = Math.Max(peak, PeakResidentBytes(servers[i].ProcessId));
                await servers[i].WaitForSuccessAsync(deadline.Token).ConfigureAwait(false);
                using var shard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, $"shard-{i}.json"), deadline.Token).ConfigureAwait(false));
                finalStep = Math.Min(finalStep, shard.RootElement.GetProperty("step").GetInt64());
                final.AddRange(shard.RootElement.GetProperty("parameters").EnumerateArray().Select(p => p.GetSingle()));
            }
            double seconds = watch.Elapsed.TotalSeconds;
            progress("the faulty run finished; running the fault-free reference ...");
            var reference = await TrainingRun.RunAsync(settings, NullTrainingProgress.Instance, log, deadline.Token).ConfigureAwait(false);
            double deviation = reference.Parameters.Select((p, i) => Math.Abs(p - final[i])).Max();
            return new ChaosResult(recorded, tried, refused, accepted, finalStep, steps - finalStep, deviation, peak, seconds);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Which process died or hangs, and what it said last: a timeout alone does not tell.
            var processes = workers.Concat(servers).Where(p => p is not null).Select(p => p.Describe());
            throw new TimeoutException($"the chaos run did not finish within {timeout.TotalSeconds:F0} s (after {recorded.Count} faults); the processes then:\n" +
                string.Join('\n', processes));
        }
        finally
        {
            foreach (var process in workers.Concat(servers)) if (process is not null) await process.DisposeAsync().ConfigureAwait(false);
            foreach (var proxy in proxies) if (proxy is not null) await proxy.DisposeAsync().ConfigureAwait(false);
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>SIGSTOP, <paramref name="length"/>, SIGCONT.</summary>
    private static async Task FreezeAsync(int pid, TimeSpan length, CancellationToken ct)
    {
        await SignalAsync(pid, "STOP").ConfigureAwait(false);
        try { await Task.Delay(length, ct).ConfigureAwait(false); }
        finally { await SignalAsync(pid, "CONT").ConfigureAwait(false); }
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]))!;
        await kill.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>A process's peak resident set size (VmHWM in /proc/PID/status), in bytes; 0 once it is gone.</summary>
    private static long PeakResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { return 0; }
    }

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
