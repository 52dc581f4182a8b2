using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Client;
using GpuPs.Worker.Scheduling;
using GpuPs.Worker.Tests.Fakes;
using Serilog;
using Serilog.Events;

namespace GpuPs.Worker.Tests.Scheduling;

/// <summary>
/// The worker's side of the round-robin schedule (<see cref="PushPacer"/>) against a real shard whose heartbeat replies
/// carry the slot the test sets (<see cref="InProcessShard.Slot"/>): pushes go without waiting for any clock (their
/// turns are the shards'), the step's times reach the coordinator, the slot's order is what the client tells the
/// shards, and only a newer slot replaces the one held.
/// </summary>
public sealed class PushPacerTests : IAsyncDisposable
{
    private readonly InProcessCluster _cluster = new(new TrainingJob
    {
        Dataset = "synthetic:rows=40,features=3,classes=2", Model = new ModelShape(Kernels.ModelKind.Logistic, 3, 2),
        Mode = SyncModes.Of(SyncMode.Bsp), Workers = 1, Steps = 3, Seed = 1, HeartbeatTimeoutMs = 60_000,
    }, shards: 2, learningRate: 0.5f);
    private readonly ShardedParameterClient _client;
    private readonly WorkerReport _report = new(0, "test");
    private readonly PushPacer _pacer;

    public PushPacerTests()
    {
        _client = _cluster.Client(new ShardedClientOptions(MaxRetries: 1));
        _client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None).GetAwaiter().GetResult();
        _pacer = new PushPacer(_client, _report, Log.Logger);
    }

    private InProcessShard Coordinator => _cluster.Fakes[0];

    /// <summary>The reports the coordinator got (heartbeats carry no times and no slot version).</summary>
    private async Task<HeartbeatRequest> NextReportAsync(int count)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (Coordinator.HeartbeatRequests.Count < count) await Task.Delay(10, guard.Token);
        return Coordinator.HeartbeatRequests.ElementAt(count - 1);
    }

    [Fact]
    public async Task Without_a_slot_a_push_goes_at_once_and_the_step_s_report_brings_the_first_slot()
    {
        Coordinator.Slot = new PushSlot { Version = 1, OffsetSeconds = 0.2, Order = 0 };
        Assert.Equal(0, _pacer.Slot.Version);
        _pacer.BeginStep(5, CancellationToken.None);

        _pacer.Pushing();
        _pacer.Pushed(0.25);
        _pacer.EndStep();

        var report = await NextReportAsync(1);
        Assert.Equal((0, 5L, 0L), (report.WorkerId, report.Step, report.SlotVersion));
        Assert.True(report.ComputeSeconds >= 0);
        Assert.Equal(0.25, report.PushSeconds);
        Assert.Equal(0, _report.SlotWaitSeconds);
        await WaitForSlotAsync(1);
        Assert.Equal(1, _report.PushSlotVersion);
        Assert.Equal(0.2, _pacer.Slot.OffsetSeconds);
        Assert.Empty(_cluster.Fakes[1].HeartbeatRequests);
    }

    [Fact]
    public async Task The_step_s_push_times_add_up_whatever_its_slot_s_offset_and_the_client_tells_the_shards_its_order()
    {
        Coordinator.Slot = new PushSlot { Version = 4, OffsetSeconds = 3600, Order = 3 };
        _pacer.BeginStep(0, CancellationToken.None);
        _pacer.EndStep();
        await WaitForSlotAsync(4);
        Assert.Equal(3, _client.PushOrder);

        _pacer.BeginStep(1, CancellationToken.None);
        _pacer.Pushing();
        _pacer.Pushed(0.05);   // two per-partition pushes of the step: their times add up
        _pacer.Pushing();
        _pacer.Pushed(0.02);
        _pacer.EndStep();

        Assert.Equal(0, _report.SlotWaitSeconds);   // no turns asked of these shards, no clock waited for
        var report = await NextReportAsync(2);
        Assert.Equal((1L, 4L), (report.Step, report.SlotVersion));
        Assert.Equal(0.07, report.PushSeconds, 12);
    }

    [Fact]
    public async Task A_step_without_a_push_reports_no_times_and_a_step_is_reported_once()
    {
        _pacer.BeginStep(3, CancellationToken.None);
        _pacer.EndStep();
        var report = await NextReportAsync(1);
        Assert.Equal((3L, 0.0, 0.0), (report.Step, report.ComputeSeconds, report.PushSeconds));

        _pacer.EndStep();   // the pushes' end and the loop's end both end a step: one report
        await Task.Delay(200);
        Assert.Single(Coordinator.HeartbeatRequests);
    }

    [Fact]
    public async Task Only_a_newer_slot_replaces_the_one_held_and_a_failed_report_keeps_it()
    {
        Coordinator.Slot = new PushSlot { Version = 5, OffsetSeconds = 0.1 };
        _pacer.BeginStep(0, CancellationToken.None);
        _pacer.EndStep();
        await WaitForSlotAsync(5);

        Coordinator.Slot = new PushSlot { Version = 3, OffsetSeconds = 0.7 };
        await ReportAsync(_pacer, 1, reports: 2);
        Coordinator.FailNext(int.MaxValue);
        await ReportAsync(_pacer, 2, reports: 3);   // sent once the older slot's reply was taken in (not overlapping it)
        await Task.Delay(100);

        Assert.Equal((5L, 0.1), (_pacer.Slot.Version, _pacer.Slot.OffsetSeconds));
        Assert.Equal(5, _report.PushSlotVersion);
    }

    [Fact]
    public async Task A_slot_of_the_version_held_does_not_replace_it()
    {
        Coordinator.Slot = new PushSlot { Version = 5, OffsetSeconds = 0.1, Order = 2 };
        await ReportAsync(_pacer, 0, reports: 1);
        await WaitForSlotAsync(5);

        Coordinator.Slot = new PushSlot { Version = 5, OffsetSeconds = 0.9, Order = 7 };
        await ReportAsync(_pacer, 1, reports: 2);
        Coordinator.Slot = null;
        await ReportAsync(_pacer, 2, reports: 3);   // sent only once the reply before it was taken in

        Assert.Equal((5L, 0.1, 2), (_pacer.Slot.Version, _pacer.Slot.OffsetSeconds, _pacer.Slot.Order));
        Assert.Equal(2, _client.PushOrder);
    }

    [Fact]
    public async Task A_report_the_coordinator_cannot_take_is_logged_with_the_worker_and_its_reason()
    {
        var log = new CapturedLog();
        var pacer = new PushPacer(_client, _report, log.Logger);
        Coordinator.FailNext(int.MaxValue);

        await ReportAsync(pacer, 4, reports: 1);

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        LogEvent? failed;
        while ((failed = log.Events.FirstOrDefault(e => e.MessageTemplate.Text.Contains("could not report", StringComparison.Ordinal))) is null)
            await Task.Delay(10, guard.Token);
        Assert.Equal(0, CapturedLog.Property(failed, "WorkerId"));
        Assert.StartsWith("report to the coordinator at in-process shard 0 failed 1 times: ", (string)CapturedLog.Property(failed, "Reason")!, StringComparison.Ordinal);
        Assert.Equal(0, pacer.Slot.Version);
    }

    /// <summary>
    /// Ends step <paramref name="step"/> (and the next ones, while the report before is still out: those are not
    /// reported) until the coordinator got <paramref name="reports"/> reports: the last one was sent, so the reply to the
    /// one before it was taken in.
    /// </summary>
    private async Task ReportAsync(PushPacer pacer, long step, int reports)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (Coordinator.HeartbeatRequests.Count < reports)
        {
            pacer.BeginStep(step++, CancellationToken.None);
            pacer.EndStep();
            await Task.Delay(10, guard.Token);
        }
    }

    private async Task WaitForSlotAsync(long version)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (_pacer.Slot.Version != version) await Task.Delay(10, guard.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        _cluster.Dispose();
    }
}
