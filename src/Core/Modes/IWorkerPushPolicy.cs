using GpuPs.Protocol;

namespace GpuPs.Core.Modes;

/// <summary>
/// How a worker turns the partitions it holds into pushes in one step, by its mode: one message per step carrying the
/// weighted sum Σ_h w_h g_h of its partitions' gradient sums (plain modes with w = 1; coded with the code row's weights),
/// or one message per partition, sent while the next one computes (multi-message).
/// </summary>
public interface IWorkerPushPolicy
{
    /// <summary>True: push each held partition's gradient as soon as it is computed; false: one push after all of them.</summary>
    bool PushesEachPartition { get; }

    /// <summary>The weight of held partition <paramref name="h"/>'s gradient sum in the message that carries it.</summary>
    float Weight(int h);

    /// <summary>
    /// The header of the message for <paramref name="step"/>: of held partition <paramref name="h"/> when
    /// <see cref="PushesEachPartition"/>, else (h null) of the whole step. <paramref name="lossSum"/> is the message's
    /// loss, weighted like its gradient. The shard index is filled in per shard by the client.
    /// </summary>
    PushHeader Header(long step, int? h, double lossSum);
}
