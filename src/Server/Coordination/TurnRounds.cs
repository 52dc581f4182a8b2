namespace GpuPs.Server.Coordination;

/// <summary>
/// Where each worker stands in the rounds of per-push turns (<see cref="PushTurns"/> of an ASP or SSP job: R2SP as the
/// paper runs it). A worker's next turn is for its next push: the step after the last one it was granted, or the one it
/// asks for (a retried push asks again for its own). Turns go by round — every live worker's push of round r, in the
/// coordinator's order, before any push of round r + 1 — so a worker computes its next gradient while the others take
/// their turns, and workers whose clocks differ are simply in different rounds: the one behind goes first. A worker
/// passed over at a round (late or dead) is not waited for again until it asks. Not thread-safe (the turns' gate).
/// </summary>
/// <param name="workers">n: the job's workers.</param>
internal sealed class TurnRounds(int workers)
{
    private readonly long[] _next = new long[workers];
    private readonly long[] _passedAt = Enumerable.Repeat(-1L, workers).ToArray();

    /// <summary>The step of <paramref name="worker"/>'s next push turn.</summary>
    public long Next(int worker) => _next[worker];

    /// <summary><paramref name="worker"/> asks for the turn of its push of <paramref name="step"/>: that is where it stands.</summary>
    public void Asked(int worker, long step) => _next[worker] = step;

    /// <summary><paramref name="worker"/> was granted the turn of <paramref name="step"/>: its next turn is the next step's.</summary>
    public void Granted(int worker, long step) => _next[worker] = step + 1;

    /// <summary>Whether <paramref name="worker"/> was passed over at the round it stands in (it is not waited for there again).</summary>
    public bool KnownLate(int worker) => _passedAt[worker] == _next[worker];

    /// <summary><paramref name="worker"/>'s turn of its round went to a worker after it.</summary>
    public void Pass(int worker) => _passedAt[worker] = _next[worker];
}
