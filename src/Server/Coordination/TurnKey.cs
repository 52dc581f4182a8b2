namespace GpuPs.Server.Coordination;

/// <summary>
/// One push's turn on a shard's link (<see cref="PushTurns"/>): a worker's push of a step, for one unit (0 for a whole
/// push; the range of a piece on a shard that closes per range) and one partition (multi-message; -1 for none).
/// </summary>
/// <param name="Worker">The worker.</param>
/// <param name="Step">The push's step.</param>
/// <param name="Unit">The turn unit.</param>
/// <param name="Partition">The push's partition, or -1.</param>
public readonly record struct TurnKey(int Worker, long Step, int Unit, int Partition = -1);
