using System.Diagnostics;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Worker.Client;
using Serilog;

namespace GpuPs.Worker;

/// <summary>
/// One worker's step: compute the gradient of each held partition's batch with the kernel and push what the mode's
/// <see cref="IWorkerPushPolicy"/> says — one weighted sum per step (plain, coded: the encode c_i = Σ_j B[i,j] g_j is
/// fused into the kernel's scale/accumulate), or one message per partition while the next one computes
/// (multi-message). Owns the gradient buffers; one instance per worker loop, not thread-safe.
/// </summary>
public sealed class StepComputation(
    PartitionPlan plan, IGradientKernel kernel, IWorkerPushPolicy policy, IWorkerStepHook hook,
    ShardedParameterClient client, WorkerReport report, ILogger log)
{
    private readonly float[][] _buffers = new float[policy.PushesEachPartition ? plan.Held.Count : 1][];
    private float[]? _discarded;

    /// <summary>The step being computed (reported in heartbeats).</summary>
    public long Current { get; private set; }

    /// <summary>
    /// Computes this worker's contribution to <paramref name="step"/> on <paramref name="parameters"/> (cancelled by
    /// <paramref name="computeCancelled"/>: the step closed without it) and pushes it (cancelled by
    /// <paramref name="pushCancelled"/>); returns true when a shard says the job finished. A push already under way when
    /// the compute is cancelled is awaited, not cancelled: it either closes the step or is refused on its first chunk.
    /// </summary>
    public async Task<bool> RunAsync(long step, float[] parameters, CancellationToken computeCancelled, CancellationToken pushCancelled)
    {
        int load = plan.Held.Count;
        Current = step;
        hook.BeginStep(step, load);
        var compute = TimeSpan.Zero;
        var pushes = new List<Task<bool>>();
        double stepLoss = 0;
        try
        {
            for (int h = 0; h < load; h++)
            {
                computeCancelled.ThrowIfCancellationRequested();
                var gradient = Buffer(policy.PushesEachPartition ? h : 0);
                bool accumulate = !policy.PushesEachPartition && h > 0;
                var watch = Stopwatch.StartNew();
                // A throttled worker's extra runs write a scratch buffer: the step's buffer may hold earlier partitions.
                for (int run = 1; run < hook.ComputeRuns; run++)
                    Gradient(h, step, parameters, _discarded ??= new float[gradient.Length], scale: 1f, accumulate: false);
                double loss = Gradient(h, step, parameters, gradient, policy.Weight(h), accumulate);
                compute += watch.Elapsed;
                await hook.AfterPartitionAsync(computeCancelled).ConfigureAwait(false);
                if (policy.PushesEachPartition)
                    pushes.Add(PushAsync(policy.Header(step, h, loss), gradient, pushCancelled));
                else
                    stepLoss += policy.Weight(h) * loss;
            }
        }
        catch when (pushes.Count > 0)
        {
            // Abandoned mid-step: the messages already sent end before their buffers are reused.
            await Task.WhenAll(pushes).ConfigureAwait(false);
            throw;
        }
        if (!policy.PushesEachPartition)
            pushes.Add(PushAsync(policy.Header(step, null, stepLoss), Buffer(0), pushCancelled));
        hook.EndStep(compute);
        report.ComputeSeconds += compute.TotalSeconds;

        var pushWatch = Stopwatch.StartNew();
        var finished = await Task.WhenAll(pushes).ConfigureAwait(false);
        report.PushSeconds += pushWatch.Elapsed.TotalSeconds;
        report.Steps++;
        return finished.Any(f => f);
    }

    /// <summary>Loss sum of held partition h's batch; gradient = (accumulate ? gradient : 0) + scale · gradient sum.</summary>
    private double Gradient(int h, long step, float[] parameters, float[] gradient, float scale, bool accumulate)
    {
        double loss = 0;
        foreach (var range in plan.Batch(h, step))
        {
            loss += kernel.LossAndGradient(parameters, range.Start, range.Count, gradient, scale, accumulate);
            accumulate = true;
        }
        return loss;
    }

    /// <summary>Pushes one message to every shard and counts what they did with it; true when the job finished.</summary>
    private async Task<bool> PushAsync(Protocol.PushHeader header, float[] gradient, CancellationToken ct)
    {
        var outcomes = await client.PushAsync(header, gradient, ct).ConfigureAwait(false);
        foreach (var (outcome, shard) in outcomes.Select((o, i) => (o, i)))
        {
            if (outcome.IsApplied)
            {
                report.AddBytesPushed(client.Layout[shard].Length * sizeof(float));
                continue;
            }
            // Refused on its first chunk: its tensor (mostly) never crossed the network, so its bytes are not counted.
            report.CountDroppedPush();
            log.Debug("Worker {WorkerId} push of step {Step} to shard {Shard} dropped: {Reason}", header.WorkerId, header.Step, shard, outcome.Reason);
        }
        return outcomes.Any(o => o.JobFinished);
    }

    private float[] Buffer(int i) => _buffers[i] ??= new float[kernel.Shape.ParameterCount];
}
