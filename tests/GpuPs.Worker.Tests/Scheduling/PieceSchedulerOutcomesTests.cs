using GpuPs.Worker.Scheduling;

namespace GpuPs.Worker.Tests.Scheduling;

/// <summary>
/// How a piece's transfer ends, as its caller and the scheduler's observer see it: a transfer cancelled on the wire
/// cancels the piece, one that fails faults it with its own exception, and either way the credit comes back and the next
/// piece starts; every start and end is heard once, with the link's bytes in flight; a credit raised while pieces wait
/// starts them; impossible credits and sizes are refused.
/// </summary>
public class PieceSchedulerOutcomesTests
{
    /// <summary>How long a piece's task may take to complete once its transfer ended: a hang guard, never reached when it passes.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    /// <summary>A transfer that waits for the test: it ends when <see cref="End"/> is called, or with its token.</summary>
    private sealed class Held
    {
        private readonly TaskCompletionSource<int> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Started { get; private set; }

        public Func<CancellationToken, Task<int>> Transfer => ct =>
        {
            Started = true;
            return _end.Task.WaitAsync(ct);
        };

        public void End(int result) => _end.TrySetResult(result);

        public void Fail(Exception e) => _end.TrySetException(e);
    }

    [Fact]
    public async Task A_piece_cancelled_on_the_wire_is_cancelled_a_failed_one_faults_with_its_error_and_both_return_their_credit()
    {
        var events = new List<PieceEvent>();
        var scheduler = new PieceScheduler(creditBytes: 100) { Observer = events.Add };
        using var cancel = new CancellationTokenSource();
        var (first, second, third) = (new Held(), new Held(), new Held());
        var cancelled = scheduler.RunAsync(0, 0, 100, first.Transfer, cancel.Token);
        var failed = scheduler.RunAsync(1, 0, 100, second.Transfer, CancellationToken.None);
        var last = scheduler.RunAsync(2, 0, 100, third.Transfer, CancellationToken.None);
        Assert.Equal((true, false, 100L), (first.Started, second.Started, scheduler.InFlightBytes));   // one piece's credit

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Guard));
        Assert.True(cancelled.IsCanceled);
        Assert.True(second.Started);   // its credit came back: the next piece went
        second.Fail(new InvalidOperationException("link reset"));
        Assert.Equal("link reset", (await Assert.ThrowsAsync<InvalidOperationException>(() => failed.WaitAsync(Guard))).Message);
        Assert.True(third.Started);
        third.End(7);
        Assert.Equal(7, await last.WaitAsync(Guard));
        Assert.Equal(0, scheduler.InFlightBytes);

        // Each piece started once and ended once, in turn, with the link's bytes in flight after each event.
        Assert.Equal([(true, 0, 100L), (false, 0, 0L), (true, 1, 100L), (false, 1, 0L), (true, 2, 100L), (false, 2, 0L)],
            events.Select(e => (e.Started, e.Layer, e.InFlightBytes)));
        Assert.All(events, e => Assert.Equal((0L, 100L, 100L), (e.Step, e.Bytes, e.CreditBytes)));
    }

    [Fact]
    public async Task A_credit_raised_while_pieces_wait_starts_them_and_the_bytes_in_flight_count_every_piece_on_the_wire()
    {
        var scheduler = new PieceScheduler(creditBytes: 100);
        var pieces = Enumerable.Range(0, 3).Select(_ => new Held()).ToArray();
        var tasks = pieces.Select((p, k) => scheduler.RunAsync(0, 0, 100, p.Transfer, CancellationToken.None)).ToArray();
        Assert.Equal([true, false, false], pieces.Select(p => p.Started));

        scheduler.CreditBytes = 300;

        Assert.Equal(300, scheduler.CreditBytes);
        Assert.Equal([true, true, true], pieces.Select(p => p.Started));
        Assert.Equal(300, scheduler.InFlightBytes);
        for (int k = 0; k < pieces.Length; k++) pieces[k].End(k);
        var results = await Task.WhenAll(tasks).WaitAsync(Guard);
        Assert.Equal([0, 1, 2], results);
        Assert.Equal(0, scheduler.InFlightBytes);
    }

    [Fact]
    public void A_credit_below_one_byte_and_a_piece_of_negative_size_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PieceScheduler(creditBytes: 0));
        var scheduler = new PieceScheduler(creditBytes: 100);
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.CreditBytes = 0);
        Assert.Equal(100, scheduler.CreditBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = scheduler.RunAsync(0, 0, -1, _ => Task.FromResult(0), CancellationToken.None); });
        Assert.Equal(0, scheduler.InFlightBytes);
    }
}
