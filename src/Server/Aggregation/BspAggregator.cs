using System.Numerics.Tensors;
using Grpc.Core;
using GpuPs.Protocol;

namespace GpuPs.Server.Aggregation;

/// <summary>
/// Bulk synchronous parallel: step t closes when every expected worker has pushed its gradient for t; the update is
/// the sum of all pushed gradient sums divided by the total row count, i.e. exactly the full-batch mean gradient.
/// </summary>
public sealed class BspAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps) : IStepAggregator
{
    private readonly float[] _sum = new float[model.Length];
    private readonly bool[] _pushed = new bool[workers.Length];
    private long _samples;
    private double _lossSum;

    public bool IsFinished => model.Step >= totalSteps;

    public int MaxStalenessSeen => 0;

    public bool Accept(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (IsFinished)
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: the job finished at step {model.Step}");
        if (header.Step < model.Step)
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: that step is closed, the shard is at step {model.Step}");
        if (header.Step > model.Step)
            throw new GpuPsException(StatusCode.FailedPrecondition, $"push for step {header.Step} refused: the shard is still at step {model.Step}");
        if (_pushed[worker.Id])
            throw new GpuPsException(StatusCode.AlreadyExists, $"worker {worker.Id} already pushed step {header.Step}");

        TensorPrimitives.Add(_sum, gradientSum, _sum);
        _samples += header.SampleCount;
        _lossSum += header.LossSum;
        _pushed[worker.Id] = true;
        worker.Clock = header.Step + 1;
        return TryClose();
    }

    public bool OnMembershipChanged() => TryClose();

    public bool CanProceed(WorkerSlot worker, long minStep) => model.Step >= minStep || IsFinished;

    private bool TryClose()
    {
        if (_samples == 0 || IsFinished) return false;
        foreach (var w in workers)
            if (w.Expected && !_pushed[w.Id]) return false;

        model.ApplySum(_sum, _samples, _lossSum);
        Array.Clear(_sum);
        Array.Clear(_pushed);
        _samples = 0;
        _lossSum = 0;
        return true;
    }
}
