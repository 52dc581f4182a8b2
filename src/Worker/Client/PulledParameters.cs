namespace GpuPs.Worker.Client;

/// <summary>The answer to a pull of every shard.</summary>
/// <param name="Step">The lowest step any shard returned (with a same-step pull, the one step they all returned).</param>
/// <param name="Finished">A shard said the job has finished.</param>
public readonly record struct PulledParameters(long Step, bool Finished);
