using GpuPs.Core.Heterogeneity;
using GpuPs.Core.Training;
using GpuPs.Protocol;
using GpuPs.Server.Coordination;
using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// The coordinator's zero shares, on scripted reports: published once the steps show a worker's rows only hold the
/// step up, versioned like any assignment, given back when the worker with rows is evicted, never in coded jobs or
/// under proportional-all.
/// </summary>
public class ZeroShareCoordinatorTests
{
    private static TrainingJob Job(SyncMode mode = SyncMode.Bsp, int workers = 3, AssignmentPolicy policy = AssignmentPolicy.Proportional) =>
        ShardFixture.Job(mode, workers, steps: 100) with { Assignment = policy, Stragglers = mode == SyncMode.Coded ? 1 : 0 };

    // Fast workers: 1000 rows/s, 0.25 s fixed. The slow one: 10 rows/s, 9 rows a step (0.9 s) + 0.25 s fixed, more than
    // (1 + margin) of the 1000 / 2000 + 0.25 = 0.75 s the fast pair takes without it.
    private static readonly double[] Speeds = [1000, 1000, 10];

    private static void ReportStep(AssignmentCoordinator c, long step, int workers)
    {
        for (int i = 0; i < workers; i++)
            c.Report(i, Speeds[i], 0.5, step, new StepShape(i == 2 ? 9 : 495, 1000, 0.25));
    }

    private static AssignmentCoordinator Started(TrainingJob job)
    {
        var c = new AssignmentCoordinator(job, new CapturedLog().Logger);
        for (int i = 0; i < job.Workers; i++) c.Report(i, Speeds[i], 0, 0);   // the probes: version 1, no zero share
        Assert.Empty(c.Current!.Idle);
        return c;
    }

    [Fact]
    public void A_worker_whose_rows_only_hold_the_step_up_gets_a_zero_share_once_the_steps_show_it()
    {
        var c = Started(Job());
        long published = -1;
        for (long step = 1; step <= 6 && published < 0; step++)
        {
            ReportStep(c, step, 3);
            if (c.OnStepClosed(step + 1, [true, true, true]) is { } code)
            {
                published = step + 1;
                Assert.Empty(code.PartitionsOf(2));
                Assert.Equal(1.0, code.PartitionWeights.Sum() / 2000, 12);
            }
        }

        // Reports count from step 2 (FromStep + 2); the fifth comes with step 6, before step 6 closes.
        Assert.Equal(SpeedEstimates.RecentReports + 2, published);
        Assert.Equal((2L, published), (c.Current!.Version, c.Current.FromStep));
        Assert.Equal([2], c.Current.Idle);
        Assert.Equal(Speeds, c.Current.Speeds);   // its speed is kept, for when it gets rows again
        // Nothing changes while it stays idle and reports nothing.
        for (long step = published; step < published + 8; step++)
        {
            for (int i = 0; i < 2; i++) c.Report(i, Speeds[i], 0.5, step, new StepShape(500, 1000, 0.25));
            Assert.Null(c.OnStepClosed(step + 1, [true, true, true]));
        }
    }

    [Fact]
    public void When_the_workers_with_rows_are_evicted_the_zero_share_worker_gets_rows_again()
    {
        var c = Started(Job());
        for (long step = 1; step <= 6; step++)
        {
            ReportStep(c, step, 3);
            c.OnStepClosed(step + 1, [true, true, true]);
        }
        Assert.Equal([2], c.Current!.Idle);

        // Worker 0 dies: the step closes without it, and the next version gives it a zero share; worker 1 alone would
        // take 1 + 0.25 s, so worker 2 (0.9 + 0.25 s, below that) is worth its rows again.
        var code = c.OnStepClosed(9, [false, true, true]);
        Assert.NotNull(code);
        Assert.Equal((3L, 9L), (c.Current.Version, c.Current.FromStep));
        Assert.Equal([0], c.Current.Idle);
        Assert.Empty(code!.PartitionsOf(0));
        Assert.NotEmpty(code.PartitionsOf(2));

        // Worker 0 comes back: the next close judges every live worker again, and worker 2 is back at a zero share.
        Assert.Null(c.OnStepClosed(10, [false, true, true]));
        Assert.NotNull(c.OnStepClosed(11, [true, true, true]));
        Assert.Equal(4L, c.Current.Version);
        Assert.Equal([2], c.Current.Idle);
    }

    [Fact]
    public void When_every_worker_with_rows_dies_mid_step_the_zero_share_worker_takes_that_very_step()
    {
        var c = new AssignmentCoordinator(Job(workers: 2), new CapturedLog().Logger);
        c.Report(0, 1000, 0, 0);
        c.Report(1, 10, 0, 0);
        for (long step = 1; step <= 6; step++)
        {
            // Worker 1: 17 rows (1.7 s) + 0.25 s, over 1.25 times the 1000 / 1000 + 0.25 s of worker 0 alone.
            c.Report(0, 1000, 0.5, step, new StepShape(983, 1000, 0.25));
            c.Report(1, 10, 0.5, step, new StepShape(17, 1000, 0.25));
            c.OnStepClosed(step + 1, [true, true]);
        }
        Assert.Equal([1], c.Current!.Idle);

        // Worker 0 is evicted in the middle of step 9, before its push: nobody left holds rows and the step cannot
        // close, so the new version starts at step 9 itself (no push of it was taken, so no step mixes versions).
        var code = c.OnMembershipChanged(9, [false, true]);
        Assert.NotNull(code);
        Assert.Equal((3L, 9L), (c.Current.Version, c.Current.FromStep));
        Assert.Equal([0], c.Current.Idle);
        Assert.Equal([0], code!.PartitionsOf(1));
    }

    [Theory]
    [InlineData(SyncMode.Coded, AssignmentPolicy.Proportional)]
    [InlineData(SyncMode.Bsp, AssignmentPolicy.ProportionalAll)]
    public void Coded_jobs_and_proportional_all_give_no_zero_shares(SyncMode mode, AssignmentPolicy policy)
    {
        var c = Started(Job(mode, policy: policy));
        for (long step = 1; step <= 8; step++)
        {
            ReportStep(c, step, 3);
            c.OnStepClosed(step + 1, [true, true, true]);
        }
        Assert.Null(c.OnStepClosed(10, [false, true, true]));
        Assert.Null(c.OnMembershipChanged(10, [false, false, true]));
        Assert.Empty(c.Current!.Idle);
        Assert.Equal(1, c.Current.Version);
    }
}
