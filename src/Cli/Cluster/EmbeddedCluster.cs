using GpuPs.Cli.Commands;
using GpuPs.Cli.Settings;
using GpuPs.Aggregator;
using GpuPs.Core.Security;
using GpuPs.Core.Topology;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Server.Observers;
using GpuPs.Worker;
using GpuPs.Worker.Stragglers;
using GpuPs.Worker.Transport;
using Serilog;
using GpuPs.Core.Training;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// A whole GpuPs cluster on this machine: one server per shard and N workers, talking real gRPC over loopback —
/// in this process (default) or as one OS process per role (<see cref="TrainSettings.Processes"/>). The cluster makes
/// its own random job token (<see cref="Auth"/>), which child processes get in their environment, never on their
/// command line.
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly TrainSettings _settings;
    private readonly ILogger _log;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<ChildProcess> _children = [];
    private IReadOnlyList<ChildProcess> _serverProcesses = [];
    private readonly Dictionary<int, ChildProcess> _workerProcesses = [];
    private readonly CancellationTokenSource _jobDone = new();
    private readonly IProcessPlacement? _placement;
    private readonly Dictionary<string, NodeAggregator> _aggregators = [];
    // Worker processes write their reports here (gpups worker --report) for RunWorkersAsync to read back.
    private readonly string _reports = Path.Combine(Path.GetTempPath(), $"gpups-reports-{Guid.NewGuid():N}");
    private string? _topologyFile;

    /// <summary>Restarts of one worker process before its deaths count as a crash loop that fails the run.</summary>
    public const int MaxWorkerRestarts = 3;

    private EmbeddedCluster(TrainSettings settings, ILogger log, IProcessPlacement? placement)
    {
        _settings = settings;
        _log = log;
        _placement = placement;
    }

    /// <summary>The cluster's authentication: a fresh 256-bit token, which an observer's client needs too.</summary>
    public JobAuth Auth { get; } = JobAuth.WithToken(JobToken.Generate());

    /// <summary>
    /// The first server process (with <c>--processes</c>) that has ended, in words: its exit code and last error lines;
    /// null while every server process runs, and for servers in this process.
    /// </summary>
    public string? ExitedServer() => _serverProcesses.FirstOrDefault(s => s.HasExited)?.Describe();

    /// <summary>Addresses of the shard servers, in shard order.</summary>
    public IReadOnlyList<string> ServerAddresses { get; private set; } = [];

    /// <summary>
    /// With hierarchical aggregation, the nodes as the workers see them: each with the addresses of its aggregator task;
    /// null for a flat cluster.
    /// </summary>
    public ClusterTopology? Topology { get; private set; }

    /// <summary>The node aggregators, by node label (empty for a flat cluster).</summary>
    public IReadOnlyDictionary<string, NodeAggregator> Aggregators => _aggregators;

    /// <summary>
    /// Per shard, the copies of its parameters every <c>snapshotEvery</c> steps (<see cref="StartAsync"/>); empty when
    /// the servers are processes or no copies were asked for.
    /// </summary>
    public IReadOnlyList<ParameterSnapshots> Snapshots { get; private set; } = [];

    /// <summary>Starts the servers (in this process, or as processes that <paramref name="placement"/> places).</summary>
    /// <param name="snapshotEvery">In-process servers: copy each shard's parameters every this many of its steps into
    /// <see cref="Snapshots"/> (0: none).</param>
    public static async Task<EmbeddedCluster> StartAsync(TrainSettings settings, TrainingJob job, ILogger log, CancellationToken ct, IProcessPlacement? placement = null,
        long snapshotEvery = 0)
    {
        var cluster = new EmbeddedCluster(settings, log, placement);
        if (!settings.Processes && snapshotEvery > 0)
            cluster.Snapshots = Enumerable.Range(0, settings.Servers).Select(_ => new ParameterSnapshots(snapshotEvery)).ToArray();
        try
        {
            cluster.ServerAddresses = settings.Processes
                ? await cluster.StartServerProcessesAsync(ct).ConfigureAwait(false)
                : await cluster.StartServersInProcessAsync(job, ct).ConfigureAwait(false);
            if (settings.Topology is { } topology) await cluster.StartAggregatorsAsync(topology, job, ct).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs every worker to the end of the job and returns their reports (a worker process's as it wrote it on exit; none
    /// from a process that died and was not restarted because the job finished without it).
    /// A worker process that dies is evicted by the servers and restarted (up to <see cref="MaxWorkerRestarts"/> times).
    /// A worker that fails otherwise stops the others and its error is thrown: without it the survivors could wait
    /// forever for a step the failed worker was needed for.
    /// </summary>
    public Task<WorkerReport[]> RunWorkersAsync(CancellationToken ct) => FailFastAsync(Enumerable.Range(0, _settings.Workers).Select(i =>
        _settings.Processes ? (Func<CancellationToken, Task<WorkerReport?>>)(token => RunWorkerProcessAsync(i, token)) : token => RunWorkerInProcessAsync(i, token)), ct);

    /// <summary>What the in-process workers computed when (empty for worker processes).</summary>
    public StepTimeline Timeline { get; } = new();

    private async Task<WorkerReport?> RunWorkerInProcessAsync(int id, CancellationToken ct)
    {
        using var backend = Accelerators.Create(_settings.Accelerator.For(id), _log);
        await using var worker = new TrainingWorker(
            new WorkerOptions(ServerAddresses, id, TimeSpan.FromMilliseconds(_settings.StepTimeoutMs), Host: Environment.MachineName, Pieces: _settings.Pieces,
                FusedPushPull: _settings.FusedPushPull, Overlap: _settings.Overlap),
            backend, _log, WorkerConnections.Create(ServerAddresses, Auth, _settings.Transport, Topology, TimeSpan.FromMilliseconds(_settings.AggregatorTimeoutMs), _log),
            joined => Timeline.Wrap(new StragglerStepHook(StragglerInjector.Parse(joined.Job.StragglerModel, joined.Job.Workers, joined.Job.Seed), joined.WorkerId), joined.WorkerId));
        return await worker.RunAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs worker <paramref name="id"/> as a process, as a deployment would: when it dies, the servers evict it after the
    /// heartbeat timeout and the job goes on without it; then it is restarted under the same id and rejoins, unless the job
    /// finished meanwhile. A worker that dies <see cref="MaxWorkerRestarts"/> times more is a crash loop: the run fails.
    /// </summary>
    private async Task<WorkerReport?> RunWorkerProcessAsync(int id, CancellationToken ct)
    {
        for (int restarts = 0; ; restarts++)
        {
            var worker = ChildProcess.Start(restarts == 0 ? $"worker {id}" : $"worker {id} (restart {restarts})",
                ["worker", "--server", string.Join(',', ServerAddresses), "--worker-id", id.ToString(), "--accelerator", WorkerAccelerators.Name(_settings.Accelerator.For(id)),
                 "--transport", _settings.Transport.ToString().ToLowerInvariant(), "--fused-push-pull", _settings.FusedPushPull ? "true" : "false",
                 "--overlap", _settings.Overlap.ToString().ToLowerInvariant(),
                 .. _topologyFile is null ? Array.Empty<string>() : ["--topology", _topologyFile, "--aggregator-timeout-ms", _settings.AggregatorTimeoutMs.ToString()],
                 .. PieceSettings.Arguments(_settings.Pieces), "--report", ReportPath(id)],
                Auth.Token!, _log, _placement?.Launcher(ClusterRole.Worker, id));
            lock (_workerProcesses)
            {
                _workerProcesses[id] = worker;
                _children.Add(worker);
            }
            int exitCode = await worker.WaitForExitAsync(ct).ConfigureAwait(false);
            if (exitCode == 0)
            {
                _jobDone.Cancel();   // a worker ends cleanly only when the job has finished (or, in ASP/SSP, its own steps)
                return WorkerReportFile.ToReport(WorkerReportFile.Read(ReportPath(id)));
            }
            if (restarts == MaxWorkerRestarts) await worker.WaitForSuccessAsync(ct).ConfigureAwait(false);   // throws, with its output
            var eviction = TimeSpan.FromMilliseconds(_settings.HeartbeatTimeoutMs) + TimeSpan.FromMilliseconds(500);
            _log.Warning("Worker {WorkerId} process exited with code {ExitCode}; the servers evict it after {TimeoutMs} ms of silence and the job goes on; restarting it then ({Restart} of {MaxRestarts})",
                id, exitCode, _settings.HeartbeatTimeoutMs, restarts + 1, MaxWorkerRestarts);
            using var waitOrDone = CancellationTokenSource.CreateLinkedTokenSource(ct, _jobDone.Token);
            try { await Task.Delay(eviction, waitOrDone.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (_jobDone.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                _log.Information("Worker {WorkerId} is not restarted: the job finished without it", id);
                return null;
            }
        }
    }

    private string ReportPath(int workerId) => Path.Combine(_reports, $"worker{workerId}.json");

    private static async Task<WorkerReport[]> FailFastAsync(IEnumerable<Func<CancellationToken, Task<WorkerReport?>>> runs, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Exception? first = null;
        var tasks = runs.Select(run => Task.Run(async () =>
        {
            try { return await run(stop.Token).ConfigureAwait(false); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref first, e, null);
                stop.Cancel();
                throw;
            }
        }, CancellationToken.None)).ToList();
        try
        {
            var reports = await Task.WhenAll(tasks).ConfigureAwait(false);
            return reports.OfType<WorkerReport>().ToArray();
        }
        catch when (first is not null && !ct.IsCancellationRequested)
        {
            // Report the failure that stopped the others, not the cancellations (or Cancelled statuses) it caused.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    /// <summary>
    /// Kills worker <paramref name="workerId"/>'s process now, as a crash would (fault injection): the run goes on without
    /// it and restarts it once the servers have evicted it (see <see cref="RunWorkersAsync"/>). Only for
    /// <see cref="TrainSettings.Processes"/> runs, after <see cref="RunWorkersAsync"/> started.
    /// </summary>
    public void KillWorker(int workerId)
    {
        lock (_workerProcesses)
        {
            if (!_workerProcesses.TryGetValue(workerId, out var worker))
                throw new InvalidOperationException($"worker {workerId} has no process (start the workers with Processes = true first)");
            worker.Kill();
        }
    }

    /// <summary>
    /// Stops node <paramref name="label"/>'s aggregator now, as a crash would for its workers (fault injection): pushes it
    /// holds fail, its endpoints close, and its workers push to the shards directly from then on.
    /// </summary>
    public async Task KillAggregatorAsync(string label)
    {
        if (!_aggregators.Remove(label, out var aggregator))
            throw new InvalidOperationException($"node '{label}' has no running aggregator");
        _log.Warning("Stopping node {Node}'s aggregator (fault injection)", label);
        await aggregator.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Starts one aggregator task per node, on free loopback ports, and records the topology with their addresses for
    /// the workers (worker processes read it from a temporary file).
    /// </summary>
    private async Task StartAggregatorsAsync(ClusterTopology topology, TrainingJob job, CancellationToken ct)
    {
        topology.Validate(job.Workers, ServerAddresses.Count);
        var nodes = new List<TopologyNode>();
        foreach (var node in topology.Nodes)
        {
            // Workers reach their aggregator as they reach shards: over the data plane unless gRPC was asked for.
            string listen = _settings.Transport == TransportChoice.Grpc ? "http://127.0.0.1:0" : "tcp://127.0.0.1:0";
            var aggregator = await NodeAggregator.StartAsync(node, ServerAddresses, [listen], Auth,
                TimeSpan.FromMilliseconds(_settings.GatherTimeoutMs), _log, ct).ConfigureAwait(false);
            _aggregators[node.Label] = aggregator;
            nodes.Add(node with { Aggregators = aggregator.Addresses });
        }
        Topology = new ClusterTopology(nodes);
        if (_settings.Processes)
        {
            _topologyFile = Path.Combine(Path.GetTempPath(), $"gpups-topology-{Guid.NewGuid():N}.txt");
            await File.WriteAllTextAsync(_topologyFile, TopologyFile.Format(Topology), ct).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<string>> StartServersInProcessAsync(TrainingJob job, CancellationToken ct)
    {
        var addresses = new List<string>();
        for (int i = 0; i < _settings.Servers; i++)
        {
            var backend = Accelerators.Create(AcceleratorChoice.Simd, _log);
            var shard = ParameterShard.Create(job, JobFactory.Optimizer(_settings), i, _settings.Servers, backend, _log, Snapshots.Count > 0 ? [Snapshots[i]] : null);
            _owned.Add(new DisposeAll(shard, backend));
            var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", "tcp://127.0.0.1:0", Auth,
                ServerLimits.Default with { FrameChecksum = Protocol.Frames.FrameChecksums.Parse(_settings.FrameChecksum) }, _log, ct).ConfigureAwait(false);
            _owned.Add(host);
            addresses.Add(host.Address.ToString().TrimEnd('/'));
        }
        return addresses;
    }

    private async Task<IReadOnlyList<string>> StartServerProcessesAsync(CancellationToken ct)
    {
        var servers = Enumerable.Range(0, _settings.Servers).Select(i => ChildProcess.Start(
            $"server {i}",
            // The cluster reads the final model and stops its servers itself.
            ["server", "--shard-index", i.ToString(), "--urls", "http://127.0.0.1:0", "--keep-serving", .. JobOptions.ToArguments(_settings), .. PieceSettings.Arguments(_settings.Pieces)],
            Auth.Token!, _log, _placement?.Launcher(ClusterRole.Server, i))).ToList();
        _children.AddRange(servers);
        _serverProcesses = servers;
        var addresses = new List<string>();
        foreach (var server in servers)
            addresses.Add(await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false));
        return addresses;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var child in _children) await child.DisposeAsync().ConfigureAwait(false);
        _jobDone.Dispose();
        foreach (var aggregator in _aggregators.Values) await aggregator.DisposeAsync().ConfigureAwait(false);
        if (_topologyFile is not null) File.Delete(_topologyFile);
        if (Directory.Exists(_reports)) Directory.Delete(_reports, recursive: true);
        for (int i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync().ConfigureAwait(false);
    }

    private sealed class DisposeAll(params IDisposable[] items) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            foreach (var item in items) item.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
