using GpuPs.Core.Tensors;
using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// Gradient coding (Tandon et al. 2017): worker i pushes c_i = Σ_j B[i,j] g_j. After every push the responders F of the
/// open step are tested, whatever their number: the step closes the moment F decodes (a with aᵀB_F = 1ᵀ in float64 and a
/// predicted float32 error within tolerance, by the code's decoder), and Σ_j g_j = Σ_{i∈F} a_i c_i is applied — for a
/// fractional code as soon as every group has a responder, however few workers that is. Stragglers are not waited for,
/// and their later pushes are dropped. A set that does not decode waits for the next responder; a wrong gradient is
/// never applied. The sum is accumulated in float64 and rounded once.
/// </summary>
// IStepAggregator named again so that UseAssignment below implements its default member (the base class maps it to the default).
public sealed class CodedAggregator : SynchronousAggregator, IStepAggregator
{
    private IGradientCode _code;
    private readonly ILogger _log;
    private readonly float[][] _coded;
    private readonly double[] _loss;
    private readonly double[] _sum;
    private readonly float[] _rounded;
    private readonly List<int> _responders = [];
    private long _samples;

    /// <summary>Coded aggregation with <paramref name="code"/>, whose row i is worker i's; logs refused decodes to
    /// <paramref name="log"/>.</summary>
    /// <exception cref="ArgumentException">The code is not for <c>workers.Length</c> workers.</exception>
    public CodedAggregator(ShardModel model, WorkerSlot[] workers, long totalSteps, IGradientCode code, ILogger log)
        : base(model, workers, totalSteps)
    {
        if (code.Workers != workers.Length)
            throw new ArgumentException($"code is for {code.Workers} workers, the job has {workers.Length}");
        _code = code;
        _log = log;
        // One coded vector per worker: the decode weights are known only once the responder set is, so pushes are kept
        // until the step closes (n × shard length floats, allocated once).
        _coded = Enumerable.Range(0, workers.Length).Select(_ => new float[model.Length]).ToArray();
        _loss = new double[workers.Length];
        _sum = new double[model.Length];
        _rounded = new float[model.Length];
    }

    /// <summary>
    /// Decodes with <paramref name="code"/> from the open step on. Pushes of the open step already held were encoded with
    /// the old code and cannot be decoded with the new one: they are dropped (logged), and their workers' steps go on
    /// without them.
    /// </summary>
    /// <exception cref="ArgumentException">The code is for another number of workers.</exception>
    public void UseAssignment(IGradientCode code)
    {
        if (code.Workers != _code.Workers)
            throw new ArgumentException($"code is for {code.Workers} workers, the job has {_code.Workers}");
        if (_responders.Count > 0)
            _log.Warning("Step {Step}: new assignment; dropping the pushes of {Responders}, encoded with the previous one", Model.Step, _responders);
        _responders.Clear();
        _samples = 0;
        _code = code;
    }

    /// <inheritdoc />
    protected override PushOutcome? Take(WorkerSlot worker, in PushHeader header, ReadOnlySpan<float> gradientSum)
    {
        if (header.CodeRow is not int row)
            throw ShardException.Invalid($"coded push of worker {worker.Id} has no code_row");
        if (row != worker.Id)
            throw ShardException.Invalid($"code row {row} does not match worker {worker.Id}'s assignment (row {worker.Id} of B, partitions {string.Join(",", _code.PartitionsOf(worker.Id))})");
        if (_responders.Contains(worker.Id)) return Duplicate(worker, $"step {header.Step}");
        if (_responders.Count > 0 && header.SampleCount != _samples)
            throw ShardException.Invalid($"coded push of worker {worker.Id} counts {header.SampleCount} rows for step {header.Step}, other workers {_samples}");

        gradientSum.CopyTo(_coded[worker.Id]);
        _loss[worker.Id] = header.LossSum;
        _samples = header.SampleCount;
        _responders.Add(worker.Id);
        return null;
    }

    /// <summary>
    /// A node aggregator's push of one coded vector for workers whose rows of B are all equal (a repetition group): each
    /// of them pushed exactly that vector, so it is held as each one's and the decode is the one of their own pushes. A
    /// group whose rows differ cannot share a vector and is refused as malformed.
    /// </summary>
    protected override PushOutcome? TakeGroup(IReadOnlyList<WorkerSlot> workers, in PushHeader header, ReadOnlySpan<float> values)
    {
        var first = workers[0];
        if (header.CodeRow != first.Id)
            throw ShardException.Invalid($"coded node push for workers {header.Contributors} has code_row {header.CodeRow?.ToString() ?? "none"}, not {first.Id}");
        foreach (var worker in workers)
        {
            for (int j = 0; j < _code.Partitions; j++)
                if (_code[worker.Id, j] != _code[first.Id, j])
                    throw ShardException.Invalid($"coded node push: workers {first.Id} and {worker.Id} have different rows of B (partitions {string.Join(",", _code.PartitionsOf(first.Id))} and {string.Join(",", _code.PartitionsOf(worker.Id))}), so they cannot share one vector");
            if (_responders.Contains(worker.Id)) return Duplicate(worker, $"step {header.Step}");
        }
        if (_responders.Count > 0 && header.SampleCount != _samples)
            throw ShardException.Invalid($"coded node push of workers {header.Contributors} counts {header.SampleCount} rows for step {header.Step}, other workers {_samples}");
        foreach (var worker in workers)
        {
            values.CopyTo(_coded[worker.Id]);
            _loss[worker.Id] = header.LossSum;
            _responders.Add(worker.Id);
        }
        _samples = header.SampleCount;
        return null;
    }

    /// <inheritdoc />
    protected override bool TryClose()
    {
        if (_responders.Count == 0 || IsFinished) return false;
        var decode = _code.Decode(_responders);
        if (!decode.IsDecodable)
        {
            // Below n − s responders an undecodable set is the normal case; from n − s on it means a refused decode.
            if (_responders.Count >= _code.MinResponders)
                _log.Warning("Step {Step}: responders {Responders} not decodable ({Reason}); waiting for more", Model.Step, _responders, decode.Reason);
            return false;
        }
        Array.Clear(_sum);
        double loss = 0;
        for (int r = 0; r < _responders.Count; r++)
        {
            double a = decode.Weights[r];
            if (a == 0) continue;
            ParallelTensor.MultiplyAddWidening(_sum, _coded[_responders[r]], a);
            loss += a * _loss[_responders[r]];
        }
        ParallelTensor.Narrow(_rounded, _sum);
        Model.ApplySum(_rounded, _samples, loss);
        _responders.Clear();
        _samples = 0;
        return true;
    }
}
