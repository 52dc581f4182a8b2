using GpuPs.Server.Coordination;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>
/// The round-robin plan (R2SP): pulls and pushes evenly gapped, never more than the concurrency in flight either way,
/// pushes overlapping the last pulls, slow workers last.
/// </summary>
public class PushSchedulerTests
{
    private static WorkerTimes Times(double ready, double transfer)
    {
        var t = new WorkerTimes();
        t.Add(ready, transfer);
        return t;
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 2)]
    [InlineData(7, 3)]
    public void Equal_workers_get_slots_evenly_gapped_by_one_transfer_with_concurrency_pushes_in_each(int workers, int concurrency)
    {
        var times = Enumerable.Range(0, workers).Select(_ => (WorkerTimes?)Times(0.25, 0.125)).ToArray();

        var slots = PushScheduler.Plan(times, concurrency);

        Assert.Equal(Enumerable.Range(0, workers), slots.Select(s => s.Order).Order());
        for (int i = 0; i < workers; i++)
        {
            int group = slots[i].Order / concurrency;
            Assert.Equal(group * 0.125, slots[i].PullAt, 12);
            Assert.Equal((group + 1) * 0.125 + 0.25, slots[i].PushAt, 12);
            Assert.Equal(0.25, slots[i].Offset, 12);   // each pushes as soon as it is ready, after its own pull
        }
        // (n/K + 1) transfers and one compute, where everyone pulling and then pushing at once takes 2n/K transfers.
        int groups = (workers + concurrency - 1) / concurrency;
        Assert.Equal((groups + 1) * 0.125 + 0.25, PushScheduler.Makespan(times, slots), 12);
    }

    [Fact]
    public void Bfloat16_pushes_leave_twice_as_long_for_each_float32_pull()
    {
        var times = new WorkerTimes?[] { Times(0.1, 0.05), Times(0.1, 0.05) };

        var slots = PushScheduler.Plan(times, 1, pullScale: 2);

        Assert.Equal([0.0, 0.1], slots.Select(s => Math.Round(s.PullAt, 12)).Order());
        Assert.Equal([0.2, 0.3], slots.Select(s => Math.Round(s.PushAt, 12)).Order());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public void Never_more_than_the_concurrency_transfers_overlap_whatever_the_times(int concurrency, int seed)
    {
        var random = new Random(seed);
        var times = Enumerable.Range(0, 12).Select(_ => (WorkerTimes?)Times(random.NextDouble(), 0.01 + random.NextDouble() * 0.3)).ToArray();

        var slots = PushScheduler.Plan(times, concurrency);

        // The most transfers in flight at once, each way, is reached at some transfer's start.
        int MostInFlight(Func<PlannedSlot, double> start) => slots.Select(s => slots.Where((o, j) =>
            start(o) <= start(s) && start(s) < start(o) + times[j]!.Transfer).Count()).Max();
        Assert.Equal(concurrency, MostInFlight(s => s.PushAt));
        Assert.Equal(concurrency, MostInFlight(s => s.PullAt));
        for (int i = 0; i < slots.Length; i++)
            Assert.True(slots[i].PushAt >= slots[i].PullAt + times[i]!.Transfer + times[i]!.Ready - 1e-12, $"worker {i} would push before its gradient is ready");
    }

    [Fact]
    public void A_slow_worker_goes_last_and_holds_up_no_one()
    {
        var times = new WorkerTimes?[] { Times(0.1, 0.05), Times(2.0, 0.05), Times(0.1, 0.05), Times(0.1, 0.05) };

        var slots = PushScheduler.Plan(times, 1);

        Assert.Equal(3, slots[1].Order);
        Assert.Equal(0.15, slots[1].PullAt, 12);
        Assert.Equal(2.2, slots[1].PushAt, 12);
        Assert.Equal([0.15, 0.2, 0.25], new[] { slots[0], slots[2], slots[3] }.Select(s => Math.Round(s.PushAt, 12)).Order());
    }

    [Fact]
    public void Workers_not_live_are_left_out_of_the_plan()
    {
        var times = new WorkerTimes?[] { Times(0.1, 0.05), null, Times(0.1, 0.05) };

        var slots = PushScheduler.Plan(times, 1);

        Assert.Equal(-1, slots[1].Order);
        Assert.Equal([0, 1], new[] { slots[0].Order, slots[2].Order });
        Assert.Equal(0.25, PushScheduler.Makespan(times, slots), 12);
    }

    [Fact]
    public void Smoothing_moves_half_way_up_and_all_the_way_down()
    {
        var t = Times(1.0, 0.5);
        t.Add(2.0, 0.25);   // slower compute: half way; faster transfer: taken
        Assert.Equal((1.5, 0.25), (t.Ready, t.Transfer));
        t.Add(double.NaN, 0.125);
        Assert.Equal((1.5, 0.25), (t.Ready, t.Transfer));
        t.Add(2.5, null);   // the step closed before it pushed: only its ready time is known
        Assert.Equal((2.0, 0.25), (t.Ready, t.Transfer));
        t.Add(0.5, 0.75);
        Assert.Equal((0.5, 0.5), (t.Ready, t.Transfer));
        Assert.Throws<ArgumentOutOfRangeException>(() => PushScheduler.Plan([t], 0));
    }
}
