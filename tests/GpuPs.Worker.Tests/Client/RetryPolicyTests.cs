using GpuPs.Core.Shards;
using GpuPs.Tests.Shared;
using GpuPs.Worker.Client;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace GpuPs.Worker.Tests.Client;

/// <summary>
/// <see cref="RetryPolicy"/>: which failures are retried, how often, and the backoff between tries — read from the
/// retries it logs (their DelayMs), not from how long the test took.
/// </summary>
public class RetryPolicyTests
{
    private static readonly ShardException Down = new(ShardErrorKind.Unavailable, "connection refused");

    private static Func<Task<int>> FailingTimes(int failures, ShardException error, Action<int> onCall)
    {
        int calls = 0;
        return () =>
        {
            onCall(++calls);
            return calls <= failures ? Task.FromException<int>(error) : Task.FromResult(calls);
        };
    }

    private static long[] LoggedDelays(CapturedLog log) =>
        log.Events.Where(e => e.MessageTemplate.Text.Contains("retry", StringComparison.Ordinal))
            .Select(e => Convert.ToInt64(CapturedLog.Property(e, "DelayMs"), System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public async Task A_transient_failure_is_retried_with_doubling_delays_until_the_call_succeeds()
    {
        var log = new CapturedLog();
        int calls = 0;
        int result = await new RetryPolicy(maxAttempts: 5, log.Logger).RunAsync("Pull", FailingTimes(3, Down, c => calls = c), CancellationToken.None);

        Assert.Equal(4, result);
        Assert.Equal(4, calls);
        Assert.Equal([100L, 200L, 400L], LoggedDelays(log));
    }

    [Fact]
    public async Task The_last_transient_failure_is_rethrown_naming_the_call_and_the_attempts()
    {
        var log = new CapturedLog();
        int calls = 0;
        var e = await Assert.ThrowsAsync<ShardException>(() =>
            new RetryPolicy(maxAttempts: 3, log.Logger).RunAsync("Register", FailingTimes(int.MaxValue, Down, c => calls = c), CancellationToken.None));

        Assert.Equal(3, calls);
        Assert.Equal(ShardErrorKind.Unavailable, e.Kind);
        Assert.Equal("Register failed 3 times: connection refused", e.Message);
        Assert.Same(Down, e.InnerException);
        Assert.Equal([100L, 200L], LoggedDelays(log));
    }

    [Theory]
    [InlineData(ShardErrorKind.InvalidRequest)]
    [InlineData(ShardErrorKind.UnknownWorker)]
    [InlineData(ShardErrorKind.Timeout)]
    [InlineData(ShardErrorKind.SlotTaken)]
    public async Task An_answer_is_not_retried(ShardErrorKind kind)
    {
        var answer = new ShardException(kind, "no");
        int calls = 0;
        var e = await Assert.ThrowsAsync<ShardException>(() =>
            new RetryPolicy(maxAttempts: 5, new CapturedLog().Logger).RunAsync("Push", FailingTimes(int.MaxValue, answer, c => calls = c), CancellationToken.None));
        Assert.Same(answer, e);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_failure_after_cancellation_propagates_at_once()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var e = await Assert.ThrowsAsync<ShardException>(() =>
            new RetryPolicy(maxAttempts: 5, new CapturedLog().Logger).RunAsync("Pull", FailingTimes(int.MaxValue, Down, c => { calls = c; cts.Cancel(); }), cts.Token));
        Assert.Same(Down, e);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task The_delay_stops_doubling_at_five_seconds()
    {
        // The test cancels as the first capped wait is logged, so it does not sit through it (it sits through 6.3 s).
        var log = new CapturedLog();
        using var cts = new CancellationTokenSource();
        var logger = new LoggerConfiguration().WriteTo.Sink(log).WriteTo.Sink(new CancelOn(cts, delayMs: 5000)).CreateLogger();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new RetryPolicy(maxAttempts: 10, logger).RunAsync("Pull", FailingTimes(int.MaxValue, Down, _ => { }), cts.Token));
        Assert.Equal([100L, 200L, 400L, 800L, 1600L, 3200L, 5000L], LoggedDelays(log));
    }

    private sealed class CancelOn(CancellationTokenSource cts, long delayMs) : ILogEventSink
    {
        public void Emit(LogEvent e)
        {
            if (CapturedLog.Property(e, "DelayMs") is int ms && ms == delayMs) cts.Cancel();
        }
    }
}
