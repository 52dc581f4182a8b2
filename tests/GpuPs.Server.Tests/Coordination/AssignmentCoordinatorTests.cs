using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;
using Serilog.Events;

namespace GpuPs.Server.Tests.Coordination;

public class AssignmentCoordinatorTests
{
    private static TrainingJob Job(SyncMode mode = SyncMode.Bsp, int workers = 3, int stragglers = 0) =>
        ShardFixture.Job(mode, workers, steps: 100) with { Assignment = AssignmentPolicy.Proportional, Stragglers = stragglers };

    [Fact]
    public void TheFirstAssignmentWaitsForEveryWorkersSpeedAndIsProportionalToThem()
    {
        var coordinator = new AssignmentCoordinator(Job(), new CapturedLog().Logger);

        Assert.Null(coordinator.Report(0, 100, 0.01, openStep: 0));
        Assert.Null(coordinator.Report(1, 0, 0, openStep: 0));   // a keep-alive: no measurement
        Assert.Null(coordinator.Report(2, 400, 0.01, openStep: 0));
        Assert.Null(coordinator.Current);
        var code = coordinator.Report(1, 200, 0.01, openStep: 0);

        Assert.NotNull(code);
        Assert.Equal(new[] { 100.0, 200.0, 400.0 }, coordinator.Current!.Speeds);
        Assert.Equal((1L, 0L), (coordinator.Current.Version, coordinator.Current.FromStep));
        Assert.Equal(new[] { 1.0, 2.0, 4.0 }.Select(v => v / 7), code!.PartitionWeights.Select(w => w / code.PartitionWeights.Sum()), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void CodedJobsGetTheHeterogeneityAwareCode()
    {
        var coordinator = new AssignmentCoordinator(Job(SyncMode.Coded, stragglers: 1), new CapturedLog().Logger);
        for (int i = 0; i < 3; i++) coordinator.Report(i, 100 << i, 0, 0);

        Assert.IsType<GpuPs.Core.Coding.HeterogeneousRepetitionCode>(coordinator.Code);
        Assert.Equal(1, coordinator.Code!.Stragglers);
    }

    [Fact]
    public void NonsenseReportsAreLoggedAndLeaveTheWorkerATypicalShare()
    {
        var log = new CapturedLog();
        var coordinator = new AssignmentCoordinator(Job(), log.Logger);

        coordinator.Report(0, 100, 0, 0);
        coordinator.Report(1, double.NaN, 0, 0);
        coordinator.Report(2, -3, 0, 0);

        Assert.Equal(new[] { 100.0, 100.0, 100.0 }, coordinator.Current!.Speeds);
        var warned = log.Events.Where(e => e.Level == LogEventLevel.Warning).Select(e => CapturedLog.Property(e, "WorkerId")).ToArray();
        Assert.Contains(1, warned);
        Assert.Contains(2, warned);
    }

    [Fact]
    public void ASpeedThatDriftsForPatienceStepsIsRebalancedAtTheOpenStepAndTheMoveIsReported()
    {
        var coordinator = new AssignmentCoordinator(Job(), new CapturedLog().Logger, new ShareDrift(0.25, patience: 3));
        for (int i = 0; i < 3; i++) coordinator.Report(i, 100, 0, 0);
        for (long step = 1; step <= 4; step++)
        {
            for (int i = 0; i < 3; i++) coordinator.Report(i, 100, 0, step);
            Assert.Null(coordinator.OnStepClosed(step + 1));   // the probes' shares were right
        }

        // Worker 0 drops to a quarter of its speed from step 5 on, every third step back near full speed (80): no three
        // reports in a row move its share past 25 % (80 moves it by 14 %), so the fast path (SpeedJump) never fires.
        var published = new List<long>();
        for (long step = 5; step < 16 && published.Count == 0; step++)
        {
            coordinator.Report(0, step % 3 == 0 ? 80 : 25, 0, step);
            coordinator.Report(1, 100, 0, step);
            coordinator.Report(2, 100, 0, step);
            if (coordinator.OnStepClosed(step + 1) is not null) published.Add(step + 1);
        }

        // The median of the last five reports turns with step 8's; the third drifting close is step 10's, opening 11.
        Assert.Equal(new[] { 11L }, published);
        var current = coordinator.Current!;
        Assert.Equal((2L, 11L), (current.Version, current.FromStep));
        Assert.Equal(new[] { 25.0, 100.0, 100.0 }, current.Speeds);   // the speeds of the drifting steps, not the lagging smoothed ones
        Assert.InRange(current.MovedFraction, 0.05, 1);
    }

    [Fact]
    public void ProbesAreReplacedByTheFirstStepReportsNotAveragedWithThem()
    {
        var coordinator = new AssignmentCoordinator(Job(), new CapturedLog().Logger, new ShareDrift(0.25, patience: 1));
        // Probes: a small sample on cold kernels, ~10x below the steps' rows per second and in the wrong ratio.
        coordinator.Report(0, 10, 0, 0);
        coordinator.Report(1, 10, 0, 0);
        coordinator.Report(2, 20, 0, 0);

        // Reports from step 2 on measured steps of version 1 (step 0's, on new rows, is not reported, and step 1's
        // report comes at step 2): five of them are awaited first.
        for (long step = 1; step <= 6; step++)
        {
            for (int i = 0; i < 3; i++) coordinator.Report(i, 100 << i, 0, step);
            if (step < 6) Assert.Null(coordinator.OnStepClosed(step + 1));
        }

        Assert.Equal(new[] { 100.0, 200.0, 400.0 }, coordinator.Estimates.Recent());
        Assert.Equal(400.0, coordinator.Estimates.Speed(2));
        Assert.Equal(1, coordinator.Current!.Version);
        Assert.NotNull(coordinator.OnStepClosed(7));   // corrected at once, no patience: a probe is a guess
        Assert.Equal(new[] { 100.0, 200.0, 400.0 }, coordinator.Current!.Speeds);
    }

    [Fact]
    public void AnOddSlowStepIsNoDrift()
    {
        var coordinator = new AssignmentCoordinator(Job(), new CapturedLog().Logger, new ShareDrift(0.25, patience: 1));
        for (int i = 0; i < 3; i++) coordinator.Report(i, 100, 0, 0);

        // Every third step of worker 0 is 4x slow (a co-tenant's bursts): each pulls its smoothed mean 33% under its
        // share, the median of its last three reports never moves.
        for (long step = 1; step < 30; step++)
        {
            coordinator.Report(0, step % 3 == 0 ? 25 : 100, 0, step);
            coordinator.Report(1, 100, 0, step);
            coordinator.Report(2, 100, 0, step);
            Assert.Null(coordinator.OnStepClosed(step + 1));
        }
        Assert.Equal(1, coordinator.Current!.Version);
    }

    [Fact]
    public void CodedJobsNamingTheOptimalCodeGetIt()
    {
        var coordinator = new AssignmentCoordinator(Job(SyncMode.Coded, workers: 4, stragglers: 1) with { Code = "hetero-optimal" }, new CapturedLog().Logger);
        foreach (var (i, v) in new[] { 1, 1, 2, 3 }.Index()) coordinator.Report(i, 100 * v, 0, 0);

        Assert.IsType<GpuPs.Core.Coding.OptimalHeterogeneousCode>(coordinator.Code);
    }

    [Fact]
    public void AMachineWideSlowdownIsNotADrift()
    {
        var coordinator = new AssignmentCoordinator(Job(), new CapturedLog().Logger, new ShareDrift(0.25, patience: 1));
        for (int i = 0; i < 3; i++) coordinator.Report(i, 100, 0, 0);

        for (long step = 1; step <= 6; step++)
        {
            for (int i = 0; i < 3; i++) coordinator.Report(i, 30, 0, step);
            Assert.Null(coordinator.OnStepClosed(step + 1));
        }

        Assert.Equal(1, coordinator.Current!.Version);
    }

    [Fact]
    public void TheShardCarriesTheAssignmentInHeartbeatsAndTheSpeedsInStatus()
    {
        using var shard = ShardFixture.Create(Job());
        ShardFixture.RegisterAll(shard, 3);

        var before = shard.Heartbeat(new HeartbeatRequest { WorkerId = 0, RowsPerSecond = 100, ExchangeSeconds = 0.002 });
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 1, RowsPerSecond = 200 });
        var after = shard.Heartbeat(new HeartbeatRequest { WorkerId = 2, RowsPerSecond = 400 });

        Assert.Null(before.Assignment);
        Assert.Equal(new[] { 100.0, 200.0, 400.0 }, after.Assignment.Speeds);
        var status = shard.Status();
        Assert.Equal(1, status.Assignment.Version);
        Assert.Equal([status.Assignment.FromStep], status.AssignmentFromSteps);
        Assert.Equal(new[] { 100.0, 200.0, 400.0 }, status.Workers.Select(w => w.RowsPerSecond));
        Assert.Equal(0.002, status.Workers[0].ExchangeSeconds);
    }

    [Fact]
    public void ModesWithoutAStepBoundaryRefuseProportionalAssignment()
    {
        var e = Assert.Throws<ArgumentException>(() => Job(SyncMode.Asp).Validate());
        Assert.Contains("bsp", e.Message);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
