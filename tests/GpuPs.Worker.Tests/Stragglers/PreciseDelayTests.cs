using System.Diagnostics;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Stragglers;

namespace GpuPs.Worker.Tests.Stragglers;

/// <summary>The wait is never shorter than asked, below a millisecond too, and stops when cancelled. Only lower bounds
/// on elapsed time are asserted: a busy machine can always make a wait longer.</summary>
public class PreciseDelayTests
{
    [Theory]
    [InlineData(0.3)]
    [InlineData(1.5)] // Task.Delay truncates to 1 ms
    [InlineData(4.2)]
    public async Task Waits_at_least_the_requested_time(double milliseconds)
    {
        var requested = TimeSpan.FromMilliseconds(milliseconds);
        for (int i = 0; i < 5; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await PreciseDelay.WaitAsync(requested, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(start);
            Assert.True(elapsed >= requested, $"waited {elapsed.TotalMilliseconds} ms of {milliseconds} ms");
        }
    }

    [Fact]
    public void Zero_completes_at_once_and_a_cancelled_token_cancels_at_once()
    {
        Assert.True(PreciseDelay.WaitAsync(TimeSpan.Zero, CancellationToken.None).IsCompletedSuccessfully);
        Assert.True(PreciseDelay.WaitAsync(TimeSpan.FromMilliseconds(0.3), new CancellationToken(canceled: true)).IsCanceled);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = PreciseDelay.WaitAsync(TimeSpan.FromTicks(-1), CancellationToken.None); });
    }

    [Fact]
    public async Task Cancelling_ends_the_wait()
    {
        // Were cancellation ignored, the test would hang for an hour rather than pass.
        using var cts = new CancellationTokenSource();
        var waiting = PreciseDelay.WaitAsync(TimeSpan.FromHours(1), cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.True(waiting.IsCanceled);
    }

    [Fact]
    public async Task On_a_manual_clock_the_wait_ends_when_that_clock_has_moved_by_the_delay_whatever_the_real_time()
    {
        // An hour on the test's clock: were the real clock waited on, the test would hang rather than pass.
        var clock = new ManualTimeProvider();
        var waiting = PreciseDelay.WaitAsync(TimeSpan.FromHours(1), CancellationToken.None, clock);
        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.False(waiting.IsCompleted);

        clock.Advance(TimeSpan.FromMinutes(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(PreciseDelay.WaitAsync(TimeSpan.FromHours(1), new CancellationToken(canceled: true), clock).IsCanceled);
    }
}
