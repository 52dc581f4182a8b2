using System.Collections.Concurrent;
using GpuPs.Worker.Scheduling;

namespace GpuPs.Worker.Tests.Scheduling;

/// <summary>
/// The piece scheduler's two promises, checked by counting, never by timing: the bytes in flight never exceed the credit
/// however many pieces are queued from however many threads, and a waiting piece of higher priority (lower layer, then
/// older step) always starts before the lower-priority pieces still waiting.
/// </summary>
public class PieceSchedulerTests
{
    /// <summary>A transfer the test ends by hand; it counts the bytes of its own transfers in flight.</summary>
    private sealed class GatedLink
    {
        private readonly ConcurrentDictionary<int, TaskCompletionSource<int>> _gates = new();
        private long _inFlight;

        public long MaxInFlight;
        public readonly ConcurrentQueue<int> Started = new();

        public Func<CancellationToken, Task<int>> Transfer(int id, long bytes) => async ct =>
        {
            long now = Interlocked.Add(ref _inFlight, bytes);
            InterlockedMax(ref MaxInFlight, now);
            Started.Enqueue(id);
            try { return await _gates.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(ct); }
            finally { Interlocked.Add(ref _inFlight, -bytes); }
        };

        public void Finish(int id) => _gates.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(id);

        private static void InterlockedMax(ref long target, long value)
        {
            long seen;
            while ((seen = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    [Fact]
    public async Task The_credit_holds_under_concurrency_and_every_piece_runs_once()
    {
        const long credit = 10_000;
        var link = new GatedLink();
        var eventsOverCredit = 0;
        var scheduler = new PieceScheduler(credit)
        {
            Observer = e => { if (e.Started && e.InFlightBytes > credit) Interlocked.Increment(ref eventsOverCredit); },
        };
        var random = new Random(3);
        var sizes = Enumerable.Range(0, 200).Select(_ => (long)random.Next(500, 4000)).ToArray();
        // Eight threads enqueue 25 pieces each at once; the test then ends whatever is in flight, in random order.
        var tasks = new ConcurrentBag<Task<int>>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (int k = t * 25; k < (t + 1) * 25; k++) tasks.Add(scheduler.RunAsync(layer: k % 3, step: k % 5, sizes[k], link.Transfer(k, sizes[k]), CancellationToken.None));
        })));
        var finished = new HashSet<int>();
        while (finished.Count < sizes.Length)
        {
            // Something is always in flight while pieces wait: a finished piece makes room for the next.
            await WaitUntil(() => link.Started.Any(id => !finished.Contains(id)));
            var running = link.Started.Where(id => !finished.Contains(id)).ToList();
            var next = running[random.Next(running.Count)];
            finished.Add(next);
            link.Finish(next);
        }
        var results = await Task.WhenAll(tasks);

        Assert.Equal(Enumerable.Range(0, sizes.Length), results.Order());
        Assert.Equal(sizes.Length, link.Started.Count);              // each piece ran exactly once
        Assert.InRange(link.MaxInFlight, sizes.Max(), credit);        // the credit was used, and never exceeded
        Assert.Equal(0, eventsOverCredit);
        Assert.Equal(0, scheduler.InFlightBytes);
    }

    [Fact]
    public async Task At_most_eight_pieces_are_on_the_wire_however_large_the_credit()
    {
        var link = new GatedLink();
        var scheduler = new PieceScheduler(creditBytes: 1L << 40);
        var tasks = Enumerable.Range(0, 50).Select(k => scheduler.RunAsync(layer: 0, step: 0, 100, link.Transfer(k, 100), CancellationToken.None)).ToList();
        for (int k = 0; k < 50; k++)
        {
            // Each piece finished makes room for exactly one more: the link never holds more than eight.
            await WaitUntil(() => link.Started.Count >= Math.Min(50, k + PieceScheduler.MaxPiecesInFlight));
            Assert.Equal(Math.Min(50, k + PieceScheduler.MaxPiecesInFlight), link.Started.Count);
            link.Finish(link.Started.ElementAt(k));
        }
        await Task.WhenAll(tasks);

        Assert.Equal(8 * 100, link.MaxInFlight);
        Assert.Equal(0, scheduler.InFlightBytes);
    }

    [Fact]
    public async Task A_higher_priority_piece_enqueued_later_starts_before_the_lower_priority_pieces_still_waiting()
    {
        var link = new GatedLink();
        var scheduler = new PieceScheduler(creditBytes: 100);
        // Step 0's push: layers 2, 1, 1 queued behind a layer-3 piece on the wire (credit: one piece at a time).
        var first = scheduler.RunAsync(3, 0, 100, link.Transfer(0, 100), CancellationToken.None);
        var low = new[]
        {
            scheduler.RunAsync(2, 0, 100, link.Transfer(1, 100), CancellationToken.None),
            scheduler.RunAsync(1, 0, 100, link.Transfer(2, 100), CancellationToken.None),
            scheduler.RunAsync(1, 0, 100, link.Transfer(3, 100), CancellationToken.None),
        };
        // Then step 1's first layer arrives: it overtakes everything still waiting, though it came last.
        var urgent = scheduler.RunAsync(0, 1, 100, link.Transfer(4, 100), CancellationToken.None);
        for (int id = 0; id < 4; id++)
        {
            await WaitUntil(() => link.Started.Count == id + 1);
            link.Finish(link.Started.Last());
        }
        await WaitUntil(() => link.Started.Count == 5);
        link.Finish(link.Started.Last());
        await Task.WhenAll([first, urgent, .. low]);

        // On the wire when step 1 came: piece 0 (never interrupted). Then layer 0 of step 1, layer 1 in enqueue order, layer 2.
        Assert.Equal([0, 4, 2, 3, 1], link.Started.ToArray());
    }

    [Fact]
    public async Task A_piece_larger_than_the_credit_goes_alone_and_a_cancelled_waiting_piece_never_starts()
    {
        var link = new GatedLink();
        var scheduler = new PieceScheduler(creditBytes: 100);
        var big = scheduler.RunAsync(0, 0, 500, link.Transfer(0, 500), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = scheduler.RunAsync(0, 0, 10, link.Transfer(1, 10), cancel.Token);
        var after = scheduler.RunAsync(1, 0, 10, link.Transfer(2, 10), CancellationToken.None);
        await WaitUntil(() => link.Started.Count == 1);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        link.Finish(0);
        await WaitUntil(() => link.Started.Count == 2);
        link.Finish(2);
        await Task.WhenAll(big, after);

        Assert.Equal([0, 2], link.Started.ToArray());
        Assert.Equal(500, link.MaxInFlight);
    }

    /// <summary>Waits for a condition that other threads make true; fails after a minute instead of hanging.</summary>
    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 60_000 && !condition(); i++) await Task.Delay(1);
        Assert.True(condition(), "the condition never became true");
    }
}
