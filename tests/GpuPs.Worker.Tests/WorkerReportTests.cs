namespace GpuPs.Worker.Tests;

/// <summary>What a <see cref="WorkerReport"/> keeps: its counters from concurrent pushes, and the last 10,000 steps' phases.</summary>
public class WorkerReportTests
{
    [Fact]
    public void The_step_timeline_keeps_the_newest_steps_oldest_first()
    {
        var report = new WorkerReport(3, "cpu");
        for (long s = 0; s < WorkerReport.KeptStepPhases + 5; s++) report.RecordStep(new WorkerStepPhases(s, 0, 0, 0, 0));

        var kept = report.StepPhases;
        Assert.Equal(WorkerReport.KeptStepPhases, kept.Count);
        Assert.Equal((5L, WorkerReport.KeptStepPhases + 4L), (kept[0].Step, kept[^1].Step));
        Assert.Equal((3, "cpu"), (report.WorkerId, report.Device));
        Assert.Equal(WorkerReport.KeptStepPhases + 4L, report.LastStep!.Value.Step);
    }

    [Fact]
    public void The_last_step_is_null_before_the_first_and_then_the_newest_recorded()
    {
        var report = new WorkerReport(0, "cpu");
        Assert.Null(report.LastStep);
        report.RecordStep(new WorkerStepPhases(7, 0.1, 0, 0, 0));
        report.RecordStep(new WorkerStepPhases(8, 0.2, 0, 0, 0));
        Assert.Equal((8L, 0.2), (report.LastStep!.Value.Step, report.LastStep.Value.PullSeconds));
    }

    [Fact]
    public async Task Counters_fed_by_concurrent_pushes_lose_nothing()
    {
        var report = new WorkerReport(0, "cpu");
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int k = 0; k < 1000; k++)
            {
                report.CountDroppedPush();
                report.AddBytesPushed(3);
                report.AddCompressSeconds(0.001);
                report.RecordPushLatency(0.5);
                report.AddTurnWait(0.25);
            }
        })));

        Assert.Equal(4000, report.PushesDropped);
        Assert.Equal(12000, report.BytesPushed);
        Assert.Equal(4.0, report.CompressSeconds, 6);
        Assert.Equal(4000, report.PushLatencies.Count);
        Assert.Equal(1000.0, report.SlotWaitSeconds, 6);   // concurrent pushes' turn waits all added
        report.SlotWaitSeconds = 2;
        Assert.Equal(2.0, report.SlotWaitSeconds);
    }

    [Fact]
    public void A_step_s_other_time_is_what_its_phases_leave_of_its_wall_time()
    {
        var phases = new WorkerStepPhases(1, PullSeconds: 0.1, ComputeSeconds: 0.2, EncodeSeconds: 0.05, PushSeconds: 0.15, LoadSeconds: 0.01,
            CompressSeconds: 0.02, DelaySeconds: 0.3, WallSeconds: 1.0);
        Assert.Equal(1.0 - 0.1 - 0.2 - 0.05 - 0.15 - 0.01 - 0.3, phases.OtherSeconds, 12);   // compress is part of encode
    }
}
