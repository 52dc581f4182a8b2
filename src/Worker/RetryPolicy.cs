using Grpc.Core;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// Retries a call while the server is unreachable, with exponential backoff (100 ms doubling to 5 s), so that a worker
/// rides out a server restart or a network blip. Refusals (invalid argument, closed step, unknown worker …) are not
/// retried: they are answers, and the caller decides.
/// </summary>
public sealed class RetryPolicy(int maxAttempts, ILogger log)
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(5);

    public static bool IsTransient(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted;

    public async Task<T> RunAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var delay = FirstDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (RpcException e) when (IsTransient(e) && attempt >= maxAttempts && !cancellationToken.IsCancellationRequested)
            {
                throw new RpcException(new Status(e.StatusCode, $"{what} failed {attempt} times: {e.Status.Detail}"));
            }
            catch (RpcException e) when (IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                log.Warning("{Call} failed ({Status}: {Detail}); retry {Attempt}/{MaxAttempts} in {DelayMs} ms",
                    what, e.StatusCode, e.Status.Detail, attempt, maxAttempts - 1, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            }
        }
    }
}
