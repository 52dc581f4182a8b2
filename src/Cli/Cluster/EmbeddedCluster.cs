using GpuPs.Cli.Settings;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// A whole GpuPs cluster on this machine: one server per shard and N workers, talking real gRPC over loopback —
/// in this process (default) or as one OS process per role (<see cref="TrainSettings.Processes"/>).
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly TrainSettings _settings;
    private readonly ILogger _log;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<ChildProcess> _children = [];

    private EmbeddedCluster(TrainSettings settings, ILogger log)
    {
        _settings = settings;
        _log = log;
    }

    /// <summary>Addresses of the shard servers, in shard order.</summary>
    public IReadOnlyList<string> ServerAddresses { get; private set; } = [];

    public static async Task<EmbeddedCluster> StartAsync(TrainSettings settings, JobSpec job, ILogger log, CancellationToken ct)
    {
        var cluster = new EmbeddedCluster(settings, log);
        try
        {
            cluster.ServerAddresses = settings.Processes
                ? await cluster.StartServerProcessesAsync(ct).ConfigureAwait(false)
                : await cluster.StartServersInProcessAsync(job, ct).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs every worker to the end of the job. In-process workers return their reports; worker processes return none.</summary>
    public async Task<IReadOnlyList<WorkerReport>> RunWorkersAsync(CancellationToken ct)
    {
        if (_settings.Processes)
        {
            var workers = Enumerable.Range(0, _settings.Workers).Select(i => ChildProcess.Start(
                $"worker {i}",
                ["worker", "--server", string.Join(',', ServerAddresses), "--worker-id", i.ToString(), "--accelerator", _settings.Accelerator.ToString()],
                _log)).ToList();
            _children.AddRange(workers);
            await Task.WhenAll(workers.Select(w => w.WaitForSuccessAsync(ct))).ConfigureAwait(false);
            return [];
        }
        return await Task.WhenAll(Enumerable.Range(0, _settings.Workers).Select(i => Task.Run(async () =>
        {
            using var backend = Accelerators.Create(_settings.Accelerator, _log);
            await using var worker = new TrainingWorker(
                new WorkerOptions(ServerAddresses, i, TimeSpan.FromMilliseconds(_settings.StepTimeoutMs), Host: Environment.MachineName),
                backend, _log, address => new GrpcShardClient(address));
            return await worker.RunAsync(ct).ConfigureAwait(false);
        }, ct))).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<string>> StartServersInProcessAsync(JobSpec job, CancellationToken ct)
    {
        var addresses = new List<string>();
        for (int i = 0; i < _settings.Servers; i++)
        {
            var backend = Accelerators.Create(AcceleratorChoice.Simd, _log);
            var shard = JobFactory.CreateShard(job, _settings, i, _settings.Servers, backend, _log);
            _owned.Add(new DisposeAll(shard, backend));
            var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", _log, ct).ConfigureAwait(false);
            _owned.Add(host);
            addresses.Add(host.Address.ToString().TrimEnd('/'));
        }
        return addresses;
    }

    private async Task<IReadOnlyList<string>> StartServerProcessesAsync(CancellationToken ct)
    {
        var servers = Enumerable.Range(0, _settings.Servers).Select(i => ChildProcess.Start(
            $"server {i}",
            ["server", "--shard-index", i.ToString(), "--urls", "http://127.0.0.1:0", .. JobOptions.ToArguments(_settings)],
            _log)).ToList();
        _children.AddRange(servers);
        var addresses = new List<string>();
        foreach (var server in servers)
            addresses.Add(await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false));
        return addresses;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var child in _children) await child.DisposeAsync().ConfigureAwait(false);
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
