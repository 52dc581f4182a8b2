namespace GpuPs.Server.Coordination;

/// <summary>
/// An edge's hold on the push turn its push goes under (<see cref="PushTurns"/>), from its first byte: the turn does not
/// expire while the edge sends, and the edge ends exactly this turn — never another of the worker's — whichever way
/// the push ends (the shard ended it already when it has the push), unless the shard gathers the push whole from
/// pieces and holds the turn for the next one. <see cref="None"/> where the push takes no turn.
/// Thread-safe; each step is idempotent.
/// </summary>
public sealed class PushTurnLease
{
    private readonly PushTurns? _turns;
    private readonly long _turn;
    private int _arrived, _ended;

    internal PushTurnLease(PushTurns? turns, long turn) => (_turns, _turn) = (turns, turn);

    /// <summary>No turn: a push without a schedule, a node aggregator's, or one the shard refuses anyway.</summary>
    public static PushTurnLease None { get; } = new(null, 0);

    /// <summary>The turn's id (0 for <see cref="None"/>).</summary>
    public long Turn => _turn;

    /// <summary>Every byte of the push is in: the push is off the link (its turn may still be held until the shard has it).</summary>
    public void Arrived()
    {
        if (_turns is not null && Interlocked.Exchange(ref _arrived, 1) == 0) _turns.StopSending(_turn);
    }

    /// <summary>The edge is done with the push: the turn ends unless <paramref name="nextPiece"/>.</summary>
    /// <param name="nextPiece">The shard took a piece of a push it gathers whole: the turn is the push's until it has all.</param>
    public void End(bool nextPiece = false)
    {
        Arrived();
        if (!nextPiece && _turns is not null && Interlocked.Exchange(ref _ended, 1) == 0) _turns.End(_turn);
    }
}
