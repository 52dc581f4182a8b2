using GpuPs.Protocol;
using GpuPs.Worker.Client;

namespace GpuPs.Worker.Tests;

/// <summary>Issue 11, lone shard resume: the push log keeps the newest steps, copies what it logs, and says when it cannot reach back.</summary>
public class PushLogTests
{
    [Fact]
    public void It_keeps_the_newest_steps_in_order_as_copies_and_misses_what_it_forgot()
    {
        var log = new PushLog(3);
        var gradient = new float[] { 1, 2 };
        for (long step = 0; step < 6; step++)
        {
            gradient[0] = step;
            log.Record(new PushHeader(0, step, 0, 1, 0), gradient, TensorEncoding.Float32);
        }
        log.Record(new PushHeader(0, 5, 0, 1, 0) with { Partition = 1 }, gradient, TensorEncoding.BFloat16);

        var kept = log.Between(3, 6)!;
        Assert.Equal([3L, 4, 5, 5], kept.Select(e => e.Header.Step));
        Assert.Equal([3f, 4, 5, 5], kept.Select(e => e.Gradient[0]));
        Assert.Equal(TensorEncoding.BFloat16, kept[^1].Encoding);
        Assert.Null(log.Between(2, 6));   // step 2 was forgotten
        Assert.Equal([5L, 5], log.Between(5, 7)!.Select(e => e.Header.Step));   // step 6 was never pushed: absent, not missing
        Assert.Empty(log.Between(4, 4)!);
    }

    [Fact]
    public void A_log_of_zero_steps_keeps_nothing()
    {
        var log = new PushLog(0);
        log.Record(new PushHeader(0, 0, 0, 1, 0), new float[] { 1 }, TensorEncoding.Float32);

        Assert.Null(log.Between(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PushLog(-1));
    }
}
