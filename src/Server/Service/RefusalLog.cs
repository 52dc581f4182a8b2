using Serilog;

namespace GpuPs.Server;

/// <summary>
/// Logs calls refused before they reached the shard (no valid job token, malformed request bytes): one warning line
/// each, without a stack trace, and at most one per second, so that a flood of bad calls cannot flood the log. The
/// next line written says how many were left out; <see cref="Count"/> counts them all. Thread-safe.
/// </summary>
public sealed class RefusalLog(ILogger log, TimeProvider time)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly object _gate = new();
    private long? _lastWritten;
    private int _leftOut;
    private long _count;

    /// <summary>Refusals noted so far, logged or not.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Notes that <paramref name="method"/> from <paramref name="peer"/> was refused because of <paramref name="reason"/>.</summary>
    public void Refused(string method, string peer, string reason)
    {
        int leftOut;
        Interlocked.Increment(ref _count);
        lock (_gate)
        {
            long now = time.GetTimestamp();
            if (_lastWritten is { } last && time.GetElapsedTime(last, now) < Period)
            {
                _leftOut++;
                return;
            }
            (_lastWritten, leftOut, _leftOut) = (now, _leftOut, 0);
        }
        if (leftOut == 0)
            log.Warning("Refused {Method} from {Peer}: {Reason}", method, peer, reason);
        else
            log.Warning("Refused {Method} from {Peer}: {Reason} ({LeftOut} more refusals since the last line were not logged)", method, peer, reason, leftOut);
    }
}
