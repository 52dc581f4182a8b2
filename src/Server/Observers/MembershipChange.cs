namespace GpuPs.Server.Observers;

/// <summary>One membership change of a shard, at the shard's <paramref name="Step"/>.</summary>
public readonly record struct MembershipChange(int Shard, int WorkerId, MembershipEvent Event, long Step);
