using Serilog;

namespace GpuPs.Worker.Scheduling;

/// <summary>
/// Chooses a link's piece size and credit from what its transfers measure, at start-up and then online (ByteScheduler
/// auto-tunes both; this uses the link model instead of a search). Over each window of <see cref="WindowPieces"/>
/// finished pieces it measures the link's rate (bytes over the time the link had anything in flight) and the fixed cost
/// of one call (the least time any piece took beyond its bytes at that rate: the round trip plus the server's handling),
/// and sets:
/// <list type="bullet">
/// <item>piece = 20 × cost × rate, within [<see cref="MinPieceBytes"/>, <see cref="MaxPieceBytes"/>]: the fixed cost is
/// then at most 5 % of a piece's time;</item>
/// <item>credit = max(2 pieces, 2 × rate × cost): twice the bandwidth-delay product, so the link never idles for a
/// round trip, and at least two pieces, so one is on the wire while the next is handled.</item>
/// </list>
/// A size fixed by the user is kept. A change of 20 % or more is logged with the measurements behind it.
/// </summary>
/// <remarks>Thread-safe; <see cref="Started"/> and <see cref="Ended"/> are called as each transfer starts and ends. The
/// link's busy time is read from a <see cref="TimeProvider"/> (the system's by default), so tests drive it by hand.</remarks>
public sealed class CreditTuner
{
    /// <summary>Pieces per measurement window: 8.</summary>
    public const int WindowPieces = 8;

    /// <summary>Smallest tuned piece: 64 KiB (below it the per-call cost dominates on any link).</summary>
    public const int MinPieceBytes = 64 << 10;

    /// <summary>Largest tuned piece: 4 MiB (the server's default message limit).</summary>
    public const int MaxPieceBytes = 4 << 20;

    private readonly object _gate = new();
    private readonly bool _tunePiece, _tuneCredit;
    private readonly ILogger _log;
    private readonly string _link;
    private readonly TimeProvider _time;
    private int _pieceBytes;
    private long _creditBytes;
    private int _count;
    private long _windowBytes;
    private double _windowMinSeconds = double.MaxValue;
    private long _windowMinBytes;
    private double _busySeconds;
    private long _busySince;
    private int _inFlight;

    /// <summary>A tuner starting from <paramref name="pieceBytes"/> and <paramref name="creditBytes"/>.</summary>
    /// <param name="pieceBytes">Starting piece size in bytes, ≥ 4.</param>
    /// <param name="creditBytes">Starting credit in bytes, ≥ 1.</param>
    /// <param name="tunePiece">Whether the piece size is tuned (false: the user fixed it).</param>
    /// <param name="tuneCredit">Whether the credit is tuned (false: the user fixed it).</param>
    /// <param name="link">The link's name in logs (e.g. "push to shard 0").</param>
    /// <param name="log">Where changes are logged.</param>
    /// <param name="time">The clock of the link's busy time (null: the system's).</param>
    public CreditTuner(int pieceBytes, long creditBytes, bool tunePiece, bool tuneCredit, string link, ILogger log, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceBytes, sizeof(float));
        ArgumentOutOfRangeException.ThrowIfLessThan(creditBytes, 1);
        (_pieceBytes, _creditBytes, _tunePiece, _tuneCredit, _link, _log) = (pieceBytes, creditBytes, tunePiece, tuneCredit, link, log);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The clock the link's busy time is read from; the scheduler times each piece on it too.</summary>
    public TimeProvider Time => _time;

    /// <summary>The piece size in force, in bytes.</summary>
    public int PieceBytes
    {
        get { lock (_gate) return _pieceBytes; }
    }

    /// <summary>The credit in force, in bytes.</summary>
    public long CreditBytes
    {
        get { lock (_gate) return _creditBytes; }
    }

    /// <summary>The last window's measured rate in bytes per second (0 before the first window).</summary>
    public double RateBytesPerSecond { get; private set; }

    /// <summary>The last window's measured fixed cost of one call, in seconds (0 before the first window).</summary>
    public double CallSeconds { get; private set; }

    /// <summary>A transfer started (for the link's busy time).</summary>
    public void Started()
    {
        lock (_gate)
        {
            if (_inFlight++ == 0) _busySince = _time.GetTimestamp();
        }
    }

    /// <summary>
    /// A transfer of <paramref name="bytes"/> ended after <paramref name="seconds"/> (<paramref name="succeeded"/>: it was
    /// answered); returns the new credit when a window closed, else null.
    /// </summary>
    public long? Ended(long bytes, double seconds, bool succeeded)
    {
        lock (_gate)
        {
            if (--_inFlight == 0) _busySeconds += _time.GetElapsedTime(_busySince).TotalSeconds;
            if (!succeeded) return null;
            _windowBytes += bytes;
            if (seconds < _windowMinSeconds) (_windowMinSeconds, _windowMinBytes) = (seconds, bytes);
            if (++_count % WindowPieces != 0) return null;
            double busy = _busySeconds + (_inFlight > 0 ? _time.GetElapsedTime(_busySince).TotalSeconds : 0);
            if (_inFlight > 0) _busySince = _time.GetTimestamp();
            _busySeconds = 0;
            double rate = _windowBytes / Math.Max(busy, 1e-6);
            double call = Math.Max(50e-6, _windowMinSeconds - _windowMinBytes / rate);
            (_windowBytes, _windowMinSeconds) = (0, double.MaxValue);
            (RateBytesPerSecond, CallSeconds) = (rate, call);
            int piece = _tunePiece ? (int)Math.Clamp(20 * call * rate, MinPieceBytes, MaxPieceBytes) & ~3 : _pieceBytes;
            long credit = _tuneCredit ? (long)Math.Max(2.0 * piece, 2 * rate * call) : _creditBytes;
            if (Changed(piece, _pieceBytes) || Changed(credit, _creditBytes))
                _log.Information("Link {Link}: measured {RateMBps:F1} MB/s and {CallMs:F2} ms per call over {Pieces} pieces: piece {PieceKiB} KiB (was {OldPieceKiB}), credit {CreditKiB} KiB (was {OldCreditKiB})",
                    _link, rate / 1e6, call * 1e3, WindowPieces, piece >> 10, _pieceBytes >> 10, credit >> 10, _creditBytes >> 10);
            (_pieceBytes, _creditBytes) = (piece, credit);
            return credit;
        }
    }

    private static bool Changed(long now, long before) => Math.Abs(now - before) >= 0.2 * before;
}
