using GpuPs.Tests.Shared;
using GpuPs.Worker.Scheduling;
using Serilog.Events;

namespace GpuPs.Worker.Tests.Scheduling;

/// <summary>
/// The credit tuner's link model on a manual clock: the rate is the window's bytes over the time the link had anything in
/// flight (idle gaps excluded, overlapping transfers counted once), the call cost is the fastest piece's time beyond its
/// bytes at that rate, and piece = 20 × cost × rate within [64 KiB, 4 MiB], credit = max(2 pieces, 2 × rate × cost).
/// </summary>
public class CreditTunerTests
{
    private const long Megabyte = 1_000_000;
    private readonly ManualTimeProvider _clock = new();
    private readonly CapturedLog _log = new();

    private CreditTuner Tuner(bool tunePiece = true, bool tuneCredit = true, int pieceBytes = 1 << 20, long creditBytes = 4 << 20) =>
        new(pieceBytes, creditBytes, tunePiece, tuneCredit, "push to shard 0", _log.Logger, _clock);

    /// <summary>One transfer alone on the link: <paramref name="busy"/> of link time, reported as taking <paramref name="seconds"/>.</summary>
    private long? Transfer(CreditTuner tuner, long bytes, TimeSpan busy, double seconds, bool succeeded = true)
    {
        tuner.Started();
        _clock.Advance(busy);
        return tuner.Ended(bytes, seconds, succeeded);
    }

    [Fact]
    public void A_window_measures_the_rate_over_busy_time_only_and_the_call_cost_from_the_fastest_piece()
    {
        var tuner = Tuner();
        // Eight 1 MB pieces, 10 ms of link time each (100 MB/s), a second of idle link between them; the fastest took
        // 11 ms in all, so one call costs 1 ms beyond its bytes.
        for (int k = 0; k < CreditTuner.WindowPieces - 1; k++)
        {
            Assert.Null(Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(10), k == 3 ? 0.011 : 0.015));
            _clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(0, tuner.RateBytesPerSecond);
        var credit = Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(10), 0.012);

        Assert.Equal(100e6, tuner.RateBytesPerSecond, 1e-3);
        Assert.Equal(0.001, tuner.CallSeconds, 1e-9);
        Assert.InRange(tuner.PieceBytes, 1_999_990, 2_000_000);      // 20 × 1 ms × 100 MB/s
        Assert.Equal(0, tuner.PieceBytes % sizeof(float));
        Assert.Equal(2L * tuner.PieceBytes, tuner.CreditBytes);       // two pieces exceed 2 × 100 MB/s × 1 ms
        Assert.Equal(tuner.CreditBytes, credit);

        // The next window starts afresh: a slower link (25 MB/s, 2 ms per call) is measured on its own pieces alone.
        for (int k = 0; k < CreditTuner.WindowPieces; k++)
            credit = Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(40), k == 5 ? 0.042 : 0.05);
        Assert.Equal(25e6, tuner.RateBytesPerSecond, 1e-3);
        Assert.Equal(0.002, tuner.CallSeconds, 1e-9);
        Assert.InRange(tuner.PieceBytes, 999_990, 1_000_000);         // 20 × 2 ms × 25 MB/s
        Assert.Equal(2L * tuner.PieceBytes, credit);
    }

    [Fact]
    public void Overlapping_transfers_count_the_link_busy_once_and_a_window_closing_mid_flight_carries_the_rest_over()
    {
        var tuner = Tuner();
        // Nine pieces start together and end 10 ms apart: the window closes at 80 ms with one still in flight.
        for (int k = 0; k < CreditTuner.WindowPieces + 1; k++) tuner.Started();
        long? credit = null;
        for (int k = 0; k < CreditTuner.WindowPieces; k++)
        {
            Assert.Null(credit);
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            credit = tuner.Ended(Megabyte, 0.010 * (k + 1) + 0.001, succeeded: true);
        }
        Assert.NotNull(credit);
        Assert.Equal(100e6, tuner.RateBytesPerSecond, 1e-3);           // 8 MB over 80 ms, not over 8 × the pieces' times
        Assert.Equal(0.001, tuner.CallSeconds, 1e-9);

        // The ninth piece's busy time counts from the window's end, not from its start: 10 ms, then seven more alone.
        _clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Null(tuner.Ended(Megabyte, 0.09, succeeded: true));
        for (int k = 0; k < CreditTuner.WindowPieces - 1; k++) Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(10), 0.011);
        Assert.Equal(100e6, tuner.RateBytesPerSecond, 1e-3);
    }

    [Fact]
    public void A_slow_link_gets_the_smallest_piece_and_a_fast_far_link_the_largest_with_its_bandwidth_delay_product_as_credit()
    {
        var slow = Tuner();
        // 1 MB/s with 1 ms per call: 20 × cost × rate is 20 KB, below the floor.
        for (int k = 0; k < CreditTuner.WindowPieces; k++) Transfer(slow, 10_000, TimeSpan.FromMilliseconds(10), 0.011);
        Assert.Equal(CreditTuner.MinPieceBytes, slow.PieceBytes);
        Assert.Equal(2L * CreditTuner.MinPieceBytes, slow.CreditBytes);

        var far = Tuner();
        // 1 GB/s with 10 ms per call: the piece stops at 4 MiB, and the credit is twice the 10 MB bandwidth-delay product.
        for (int k = 0; k < CreditTuner.WindowPieces; k++) Transfer(far, Megabyte, TimeSpan.FromMilliseconds(1), 0.011);
        Assert.Equal(CreditTuner.MaxPieceBytes, far.PieceBytes);
        Assert.InRange(far.CreditBytes, 19_999_000, 20_001_000);
    }

    [Fact]
    public void Sizes_fixed_by_the_user_are_kept_and_the_other_is_tuned_around_them()
    {
        var fixedPiece = Tuner(tunePiece: false, pieceBytes: 4096);
        for (int k = 0; k < CreditTuner.WindowPieces; k++) Transfer(fixedPiece, Megabyte, TimeSpan.FromMilliseconds(10), 0.011);
        Assert.Equal(4096, fixedPiece.PieceBytes);
        Assert.InRange(fixedPiece.CreditBytes, 199_990, 200_010);    // 2 × 100 MB/s × 1 ms, above two 4 KiB pieces

        var fixedCredit = Tuner(tuneCredit: false, creditBytes: 123_456);
        long? credit = null;
        for (int k = 0; k < CreditTuner.WindowPieces; k++) credit = Transfer(fixedCredit, Megabyte, TimeSpan.FromMilliseconds(10), 0.011);
        Assert.Equal(123_456, credit);
        Assert.Equal(123_456, fixedCredit.CreditBytes);
        Assert.InRange(fixedCredit.PieceBytes, 1_999_990, 2_000_000);
    }

    [Fact]
    public void Failed_transfers_close_no_window_and_are_not_taken_as_the_fastest_piece()
    {
        var tuner = Tuner();
        for (int k = 0; k < CreditTuner.WindowPieces; k++)
        {
            // A refused call that ended at once, with many bytes: neither a piece of the window nor its call cost.
            Assert.Null(Transfer(tuner, 100 * Megabyte, TimeSpan.Zero, 0.000_01, succeeded: false));
            var credit = Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(10), 0.011);
            Assert.Equal(k == CreditTuner.WindowPieces - 1, credit is not null);
        }
        Assert.Equal(100e6, tuner.RateBytesPerSecond, 1e-3);
        Assert.Equal(0.001, tuner.CallSeconds, 1e-9);
    }

    [Fact]
    public void A_change_of_a_fifth_or_more_is_logged_with_its_measurements_and_a_steady_link_logs_nothing()
    {
        var tuner = Tuner();
        for (int window = 0; window < 3; window++)
            for (int k = 0; k < CreditTuner.WindowPieces; k++) Transfer(tuner, Megabyte, TimeSpan.FromMilliseconds(10), 0.011);

        var change = Assert.Single(_log.Events);                     // 1 MiB → 2 MB pieces; the same measurements after
        Assert.Equal(LogEventLevel.Information, change.Level);
        Assert.Equal("push to shard 0", CapturedLog.Property(change, "Link"));
        Assert.Equal(100.0, (double)CapturedLog.Property(change, "RateMBps")!, 1e-6);
        Assert.Equal(1024, CapturedLog.Property(change, "OldPieceKiB"));
    }

    [Fact]
    public async Task The_scheduler_times_pieces_on_the_tuner_clock_and_takes_its_credit_when_a_window_closes()
    {
        var tuner = Tuner(creditBytes: 1000);
        var scheduler = new PieceScheduler(1000, tuner);
        for (int k = 0; k < CreditTuner.WindowPieces; k++)
        {
            // One piece at a time, 10 ms on the manual clock each: 100 MB/s, and no call cost beyond the floor of 50 µs.
            Assert.Equal(k, await scheduler.RunAsync(0, k, Megabyte, _ =>
            {
                _clock.Advance(TimeSpan.FromMilliseconds(10));
                return Task.FromResult(k);
            }, CancellationToken.None));
        }
        Assert.Equal(100e6, tuner.RateBytesPerSecond, 1e-3);
        Assert.Equal(50e-6, tuner.CallSeconds, 1e-12);
        Assert.InRange(tuner.PieceBytes, 99_990, 100_000);            // 20 × 50 µs × 100 MB/s
        Assert.Equal(2L * tuner.PieceBytes, scheduler.CreditBytes);
    }

    [Fact]
    public void Sizes_below_one_value_or_no_credit_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Tuner(pieceBytes: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tuner(creditBytes: 0));
    }
}
