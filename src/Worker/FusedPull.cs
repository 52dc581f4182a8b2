using GpuPs.Worker.Client;

namespace GpuPs.Worker;

/// <summary>
/// The pull that follows a step's push, fused into it (<see cref="StepComputation.RunAsync"/>): the shards answer the
/// push with the parameters of <see cref="MinStep"/> in the same round trip (the TCP data plane). One instance per worker
/// loop, aimed again every step (nothing allocated per step); not thread-safe.
/// </summary>
/// <param name="sameStep">Every shard's slice must be of one step (the synchronous modes), else the caller pulls again.</param>
public sealed class FusedPull(bool sameStep)
{
    /// <summary>The step the shards must reach before they answer.</summary>
    public long MinStep { get; private set; }

    /// <summary>Where the parameters go (the whole vector).</summary>
    public float[] Destination { get; private set; } = [];

    /// <summary>Every shard's slice must be of one step.</summary>
    public bool SameStep => sameStep;

    /// <summary>The pulled parameters' step, once the step's push brought them; null: pull separately.</summary>
    public PulledParameters? Pulled { get; private set; }

    /// <summary>
    /// When every shard had answered the push (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>; 0: no fused push
    /// was sent since <see cref="Aim"/>): the step's push phase ends there, and the next step's pull begins.
    /// </summary>
    public long PushAnsweredAt { get; private set; }

    /// <summary>How long the push took until every shard answered it, in seconds (0: no fused push was sent).</summary>
    public double PushSeconds { get; private set; }

    /// <summary>How long the pull part waited after the last push answer (the next step's pull time), in seconds.</summary>
    public double PullSeconds { get; private set; }

    /// <summary>Aims the pull at <paramref name="minStep"/> into <paramref name="destination"/>, forgetting the last answer.</summary>
    public void Aim(long minStep, float[] destination) =>
        (MinStep, Destination, Pulled, PushAnsweredAt, PushSeconds, PullSeconds) = (minStep, destination, null, 0, 0, 0);

    /// <summary>
    /// Records what the fused push-pull sent at <paramref name="pushStarted"/> brought back: its answer came at
    /// <paramref name="pushAnsweredAt"/>, and the pull it carried has just arrived (Stopwatch timestamps).
    /// </summary>
    internal void Answered(PulledParameters? pulled, long pushStarted, long pushAnsweredAt) =>
        (Pulled, PushAnsweredAt, PushSeconds, PullSeconds) = (pulled, pushAnsweredAt,
            System.Diagnostics.Stopwatch.GetElapsedTime(pushStarted, pushAnsweredAt).TotalSeconds,
            System.Diagnostics.Stopwatch.GetElapsedTime(pushAnsweredAt).TotalSeconds);
}
