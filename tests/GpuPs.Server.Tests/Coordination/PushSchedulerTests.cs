using GpuPs.Server.Coordination;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>The round-robin plan (R2SP): evenly gapped slots, never more than the concurrency in flight, slow workers last.</summary>
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
            Assert.Equal(0.25 + (slots[i].Order / concurrency) * 0.125, slots[i].Offset, 12);
        Assert.Equal(0.25 + ((workers + concurrency - 1) / concurrency) * 0.125, PushScheduler.Makespan(times, slots), 12);
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

        // The most transfers in flight at once is reached at some transfer's start.
        int most = slots.Select((s, i) => slots.Where((o, j) => o.Offset <= s.Offset && s.Offset < o.Offset + times[j]!.Transfer).Count()).Max();
        Assert.Equal(concurrency, most);
        for (int i = 0; i < slots.Length; i++)
            Assert.True(slots[i].Offset >= times[i]!.Ready, $"worker {i} would push before its gradient is ready");
    }

    [Fact]
    public void A_slow_worker_goes_last_and_holds_up_no_one()
    {
        var times = new WorkerTimes?[] { Times(0.1, 0.05), Times(2.0, 0.05), Times(0.1, 0.05), Times(0.1, 0.05) };

        var slots = PushScheduler.Plan(times, 1);

        Assert.Equal(3, slots[1].Order);
        Assert.Equal(2.0, slots[1].Offset, 12);
        Assert.Equal([0.1, 0.15, 0.2], new[] { slots[0], slots[2], slots[3] }.Select(s => s.Offset).Order().Select(o => Math.Round(o, 12)));
    }

    [Fact]
    public void Workers_not_live_are_left_out_of_the_plan()
    {
        var times = new WorkerTimes?[] { Times(0.1, 0.05), null, Times(0.1, 0.05) };

        var slots = PushScheduler.Plan(times, 1);

        Assert.Equal(-1, slots[1].Order);
        Assert.Equal([0, 1], new[] { slots[0].Order, slots[2].Order });
        Assert.Equal(0.2, PushScheduler.Makespan(times, slots), 12);
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
