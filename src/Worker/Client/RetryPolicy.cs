using GpuPs.Core.Shards;
using Serilog;

namespace GpuPs.Worker.Client;

/// <summary>
/// Retries a call while the shard is unreachable (<see cref="ShardException.IsTransient"/>), with exponential backoff
/// (100 ms doubling to 5 s), so that a worker rides out a server restart or a network blip. Answers (an invalid request,
/// an unknown worker, a passed deadline …) are not retried: the caller decides.
/// </summary>
public sealed class RetryPolicy(int maxAttempts, ILogger log)
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs <paramref name="call"/>, again after each transient failure, at most <c>maxAttempts</c> times in all; the
    /// last transient failure is rethrown with <paramref name="what"/> and the attempt count in its message. Any other
    /// exception, and any failure once <paramref name="cancellationToken"/> is cancelled, propagates at once.
    /// </summary>
    public async Task<T> RunAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var delay = FirstDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (ShardException e) when (e.IsTransient && attempt >= maxAttempts && !cancellationToken.IsCancellationRequested)
            {
                throw new ShardException(e.Kind, $"{what} failed {attempt} times: {e.Message}", e);
            }
            catch (ShardException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
            {
                log.Warning("{Call} failed ({Detail}); retry {Attempt}/{MaxAttempts} in {DelayMs} ms",
                    what, e.Message, attempt, maxAttempts - 1, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            }
        }
    }
}
