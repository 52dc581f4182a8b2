namespace GpuPs.Server.Coordination;

/// <summary>One worker's place in a round-robin plan: when its push may start, from the step's start, and its rank.</summary>
/// <param name="Offset">Seconds from the step's start (the worker's parameters arriving) to its push slot.</param>
/// <param name="Order">Position in the step's push order, 0 first; -1 for a worker not in the plan.</param>
public readonly record struct PlannedSlot(double Offset, int Order);

/// <summary>
/// Plans the round-robin push slots of one step (R2SP): the live workers, fastest first, are dealt to
/// <c>concurrency</c> lanes; each lane carries one transfer at a time, so at most <c>concurrency</c> transfers share the
/// server link at once. A worker's slot opens when its gradient is ready and its lane is free:
/// <c>start = max(ready_i, end of the lane's previous transfer)</c>. With equal times the slots are evenly gapped —
/// <c>concurrency</c> pushes every <c>transfer</c> seconds from the moment they are ready — and a slow (heterogeneous)
/// worker simply comes later in the order instead of holding up a lane. Pure and deterministic (ties by worker id).
/// </summary>
public static class PushScheduler
{
    /// <summary>
    /// The slot of every worker in <paramref name="times"/>; a null entry is not live and gets <c>Order = -1</c>.
    /// </summary>
    /// <param name="times">Per worker id: its smoothed times, or null when it is not in the plan.</param>
    /// <param name="concurrency">Transfers that may share the link at a time; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="concurrency"/> is below 1.</exception>
    public static PlannedSlot[] Plan(IReadOnlyList<WorkerTimes?> times, int concurrency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        var slots = new PlannedSlot[times.Count];
        Array.Fill(slots, new PlannedSlot(0, -1));
        var order = Enumerable.Range(0, times.Count).Where(i => times[i] is not null)
            .OrderBy(i => times[i]!.Ready).ThenBy(i => i).ToArray();
        var laneFree = new double[Math.Min(concurrency, Math.Max(1, order.Length))];
        for (int rank = 0; rank < order.Length; rank++)
        {
            var t = times[order[rank]]!;
            int lane = 0;
            for (int l = 1; l < laneFree.Length; l++)
                if (laneFree[l] < laneFree[lane]) lane = l;
            double start = Math.Max(t.Ready, laneFree[lane]);
            laneFree[lane] = start + t.Transfer;
            slots[order[rank]] = new PlannedSlot(start, rank);
        }
        return slots;
    }

    /// <summary>Seconds from the step's start until the last planned push ends: the step time the plan predicts.</summary>
    public static double Makespan(IReadOnlyList<WorkerTimes?> times, IReadOnlyList<PlannedSlot> slots)
    {
        double end = 0;
        for (int i = 0; i < slots.Count; i++)
            if (slots[i].Order >= 0) end = Math.Max(end, slots[i].Offset + times[i]!.Transfer);
        return end;
    }
}
