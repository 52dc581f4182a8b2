namespace GpuPs.Server.Coordination;

/// <summary>One worker's place in a round-robin plan, in seconds from the step's opening on the coordinator.</summary>
/// <param name="PullAt">When the shard starts answering its pull of the step's parameters.</param>
/// <param name="PushAt">When its push may start.</param>
/// <param name="Order">Position in the step's order, 0 first; -1 for a worker not in the plan.</param>
/// <param name="Offset">Its push slot as the worker sees it: seconds from its parameters' arrival to its push.</param>
public readonly record struct PlannedSlot(double PullAt, double PushAt, int Order, double Offset)
{
    /// <summary>The slot of a worker that is not in the plan: no waiting anywhere.</summary>
    public static PlannedSlot None => new(0, 0, -1, 0);
}

/// <summary>
/// Plans the round-robin slots of one step (R2SP): the live workers, fastest first, are dealt to <c>concurrency</c>
/// lanes in each direction; a lane carries one transfer at a time, so at most <c>concurrency</c> transfers share the
/// server link each way. Worker i's pull starts when a pull lane is free and ends <c>pull_i</c> later; its gradient is
/// ready <c>ready_i</c> after that; its push starts when it is ready and a push lane is free:
/// <c>push_i = max(pullEnd_i + ready_i, end of the lane's previous push)</c>. Pulls and pushes go opposite ways, so the
/// first workers push while the last still pull: with equal times the pushes are evenly gapped by one transfer and the
/// step takes about (n/concurrency + 1) transfers plus one compute, against 2n/concurrency transfers plus a compute when
/// every pull, then every push, shares the link at once. A slow (heterogeneous) worker comes later in the order instead
/// of holding up a lane. Pure and deterministic (ties by worker id).
/// </summary>
public static class PushScheduler
{
    /// <summary>
    /// The slot of every worker in <paramref name="times"/>; a null entry is not live and gets <see cref="PlannedSlot.None"/>.
    /// </summary>
    /// <param name="times">Per worker id: its smoothed times, or null when it is not in the plan.</param>
    /// <param name="concurrency">Transfers that may share the link each way at a time; at least 1.</param>
    /// <param name="pullScale">A pull's duration over a push's (the pull carries float32; 2 when pushes are bfloat16).</param>
    /// <param name="pullSeconds">A pull's measured duration on the link (<see cref="PullTurns.MeasuredPullSeconds"/>);
    /// null: the worker's push time times <paramref name="pullScale"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="concurrency"/> is below 1.</exception>
    public static PlannedSlot[] Plan(IReadOnlyList<WorkerTimes?> times, int concurrency, double pullScale = 1, double? pullSeconds = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        var slots = new PlannedSlot[times.Count];
        Array.Fill(slots, PlannedSlot.None);
        var order = Enumerable.Range(0, times.Count).Where(i => times[i] is not null)
            .OrderBy(i => times[i]!.Ready).ThenBy(i => i).ToArray();
        int lanes = Math.Min(concurrency, Math.Max(1, order.Length));
        var pullFree = new double[lanes];
        var pushFree = new double[lanes];
        for (int rank = 0; rank < order.Length; rank++)
        {
            var t = times[order[rank]]!;
            int pullLane = FirstFree(pullFree), pushLane = FirstFree(pushFree);
            double pullAt = pullFree[pullLane];
            double arrived = pullAt + (pullSeconds ?? t.Transfer * pullScale);
            pullFree[pullLane] = arrived;
            double pushAt = Math.Max(arrived + t.Ready, pushFree[pushLane]);
            pushFree[pushLane] = pushAt + t.Transfer;
            slots[order[rank]] = new PlannedSlot(pullAt, pushAt, rank, pushAt - arrived);
        }
        return slots;
    }

    /// <summary>Seconds from the step's opening until the last planned push ends: the step time the plan predicts.</summary>
    public static double Makespan(IReadOnlyList<WorkerTimes?> times, IReadOnlyList<PlannedSlot> slots)
    {
        double end = 0;
        for (int i = 0; i < slots.Count; i++)
            if (slots[i].Order >= 0) end = Math.Max(end, slots[i].PushAt + times[i]!.Transfer);
        return end;
    }

    private static int FirstFree(double[] lanes)
    {
        int lane = 0;
        for (int l = 1; l < lanes.Length; l++)
            if (lanes[l] < lanes[lane]) lane = l;
        return lane;
    }
}
