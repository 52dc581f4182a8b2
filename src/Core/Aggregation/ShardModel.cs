using System.Numerics.Tensors;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The parameters of one shard and the optimizer that updates them. Not thread-safe: used under the shard's lock.
/// </summary>
/// <remarks>
/// <para>The parameters are always finite. An update is computed on a second buffer and committed only if its mean
/// gradient is finite and within <see cref="GradientLimits.MaxMeanGradient"/>, its mean loss is finite, and every
/// parameter it produces is finite; otherwise the step closes without an update (<see cref="UpdatesSkipped"/>). That costs
/// one copy and one scan of the shard per update, ~1 ms for 1M parameters, against the n pushes summed per step.</para>
/// <para><b>Ranges.</b> A model cut into closing ranges (<see cref="Scheduling.ClosingRanges"/>) has one optimizer per
/// range and a step per range: <see cref="ApplyRange"/> updates one range, and the model's <see cref="Step"/> is the
/// oldest range's, so the step closes when its last range is applied. The optimizers are elementwise, so updating the
/// ranges one by one gives the bits one update of the whole shard gives. A range whose update is not finite is skipped
/// alone (the ranges already applied cannot wait for it), and only its optimizer starts afresh.</para>
/// </remarks>
public sealed class ShardModel : IDisposable
{
    private readonly Func<int, IOptimizerKernel> _createOptimizer;
    private readonly ILogger _log;
    private readonly PieceRange[] _ranges;
    private readonly IOptimizerKernel[] _optimizers;
    private readonly long[] _rangeSteps;
    private int _rangesAtStep;   // ranges whose step is Step: the step advances when none is left (no scan per range)
    private readonly OptimizerState?[] _boundaryStates;   // ranges only: a range's optimizer state at the last step boundary, once applied past it
    private float[]? _boundary;                           // ranges only: those ranges' parameters at the last step boundary
    private float[] _parameters;
    private float[] _next;

    /// <param name="parameters">The initial parameters (finite); the model owns the array from now on.</param>
    /// <param name="createOptimizer">Makes the optimizer, once now and again whenever a refused update has left its state unusable.</param>
    /// <param name="log">Where skipped updates are reported.</param>
    public ShardModel(float[] parameters, Func<IOptimizerKernel> createOptimizer, ILogger log)
        : this(parameters, null, _ => createOptimizer(), log) { }

    /// <param name="parameters">The initial parameters (finite); the model owns the array from now on.</param>
    /// <param name="ranges">The closing ranges, in key order, covering the shard exactly; null: the whole shard is one.</param>
    /// <param name="createOptimizer">Makes an optimizer for a range of the given length, once per range now and again
    /// whenever a refused update has left a range's state unusable.</param>
    /// <param name="log">Where skipped updates are reported.</param>
    /// <exception cref="ArgumentException">Parameters not finite, or ranges that do not tile the shard.</exception>
    public ShardModel(float[] parameters, IReadOnlyList<PieceRange>? ranges, Func<int, IOptimizerKernel> createOptimizer, ILogger log)
    {
        if (parameters.Length > 0 && !float.IsFinite(TensorPrimitives.MaxMagnitude(parameters)))
            throw new ArgumentException("initial parameters must be finite", nameof(parameters));
        _ranges = ranges is null ? [new PieceRange(0, parameters.Length)] : [.. ranges];
        for (int r = 0, at = 0; r < _ranges.Length; at = _ranges[r++].End)
            if (_ranges[r].Offset != at || _ranges[r].Length < 0 || (r == _ranges.Length - 1 && _ranges[r].End != parameters.Length))
                throw new ArgumentException($"closing ranges must tile the shard's {parameters.Length} values in key order (range {r} is {_ranges[r]})", nameof(ranges));
        _parameters = parameters;
        _next = new float[parameters.Length];
        _createOptimizer = createOptimizer;
        _optimizers = [.. _ranges.Select(r => createOptimizer(r.Length))];
        _rangeSteps = new long[_ranges.Length];
        _rangesAtStep = _ranges.Length;
        _boundaryStates = new OptimizerState?[_ranges.Length];
        _log = log;
    }

    /// <summary>The current parameters; valid until the next update.</summary>
    public ReadOnlySpan<float> Parameters => _parameters;

    /// <summary>The closing ranges, in key order (one, the whole shard, unless the model was cut).</summary>
    public IReadOnlyList<PieceRange> Ranges => _ranges;

    /// <summary>Steps closed so far, with or without an update: the oldest range's step.</summary>
    public long Step { get; private set; }

    /// <summary>Steps (of a range, with ranges) that closed without changing the parameters, because their update was not finite (see remarks).</summary>
    public long UpdatesSkipped { get; private set; }

    /// <summary>Mean per-row loss reported with the last update.</summary>
    public double LastMeanLoss { get; private set; } = double.NaN;

    /// <summary>Number of parameters in the shard.</summary>
    public int Length => _parameters.Length;

    /// <summary>Range updates applied (or skipped) so far, over all ranges: it changes whenever a range closes.</summary>
    public long RangesClosed { get; private set; }

    /// <summary>Every range is at <see cref="Step"/>: no range of the next step has been applied yet.</summary>
    public bool AtStepBoundary => _rangesAtStep == _ranges.Length;

    /// <summary>Steps range <paramref name="range"/> has closed: <see cref="Step"/> or one more.</summary>
    public long RangeStep(int range) => _rangeSteps[range];

    /// <summary>The index of the range that holds value <paramref name="offset"/> (0 ≤ offset &lt; <see cref="Length"/>): a binary search.</summary>
    public int RangeOf(int offset)
    {
        int low = 0, high = _ranges.Length - 1;
        while (low < high)
        {
            int mid = (low + high + 1) / 2;
            if (_ranges[mid].Offset <= offset) low = mid;
            else high = mid - 1;
        }
        return low;
    }

    /// <summary>
    /// Closes one step with the mean gradient <c>gradientSum / samples</c> (1 ≤ samples ≤ <see cref="GradientLimits.MaxSampleCount"/>),
    /// scaling <paramref name="gradientSum"/> in place (it is the caller's scratch). Returns false when the update was
    /// skipped (logged, counted in <see cref="UpdatesSkipped"/>): the parameters are unchanged, and if the optimizer had
    /// already taken the gradient into its state (momentum, Adam's moments), that state starts afresh. A model cut into
    /// ranges applies each range in turn.
    /// </summary>
    public bool ApplySum(Span<float> gradientSum, long samples, double lossSum)
    {
        CheckSamples(samples);
        bool applied = true;
        for (int r = 0; r < _ranges.Length; r++)
            applied &= ApplyRange(r, gradientSum.Slice(_ranges[r].Offset, _ranges[r].Length), samples, lossSum);
        return applied;
    }

    /// <summary>
    /// Closes range <paramref name="range"/>'s step with the mean gradient <c>gradientSum / samples</c> over that range
    /// (<paramref name="gradientSum"/> is of the range's length, scaled in place), as <see cref="ApplySum"/> does for the
    /// whole shard; the model's <see cref="Step"/> advances when its last range has. Returns false when the range's
    /// update was skipped.
    /// </summary>
    public bool ApplyRange(int range, Span<float> gradientSum, long samples, double lossSum)
    {
        CheckSamples(samples);
        if (gradientSum.Length != _ranges[range].Length)
            throw new ArgumentException($"range {range} holds {_ranges[range].Length} values, the gradient {gradientSum.Length}", nameof(gradientSum));
        bool first = _rangeSteps[range] == Step;   // the range's first update past the step boundary
        if (first && _ranges.Length > 1) SaveBoundary(range);
        bool applied = TryUpdate(range, gradientSum, samples, lossSum);
        _rangeSteps[range]++;
        RangesClosed++;
        if (first && --_rangesAtStep == 0)
        {
            Step = _rangeSteps.Min();
            _rangesAtStep = _rangeSteps.Count(s => s == Step);
            Array.Clear(_boundaryStates);
        }
        return applied;
    }

    /// <summary>A copy of the optimizer's state (velocity, moments, step count), now; with ranges, the ranges' slots end to end.</summary>
    public OptimizerState ExportOptimizer() => Join(_optimizers.Select(o => o.ExportState()).ToArray());

    /// <summary>
    /// The parameters and optimizer state of step <see cref="Step"/>'s boundary, for a checkpoint, whenever it is taken:
    /// the ranges still at <see cref="Step"/> as they are, those already applied in the next step as they were before
    /// (kept by <see cref="ApplyRange"/> when a range first passes the boundary: one copy of the shard and its optimizer
    /// state per step, only with ranges). A stopping server thus saves a whole step even mid-step, when the step's other
    /// ranges may never close.
    /// </summary>
    public (float[] Parameters, OptimizerState Optimizer) ExportBoundary()
    {
        var parameters = _parameters.ToArray();
        var states = new OptimizerState[_ranges.Length];
        for (int r = 0; r < _ranges.Length; r++)
        {
            if (_rangeSteps[r] == Step)
            {
                states[r] = _optimizers[r].ExportState();
                continue;
            }
            var range = _ranges[r];
            states[r] = _boundaryStates[r]!;
            _boundary!.AsSpan(range.Offset, range.Length).CopyTo(parameters.AsSpan(range.Offset, range.Length));
        }
        return (parameters, Join(states));
    }

    /// <summary>Range <paramref name="r"/>'s parameters and optimizer state as they are at the step boundary, before its first update past it.</summary>
    private void SaveBoundary(int r)
    {
        var range = _ranges[r];
        _boundary ??= new float[_parameters.Length];
        _parameters.AsSpan(range.Offset, range.Length).CopyTo(_boundary.AsSpan(range.Offset, range.Length));
        _boundaryStates[r] = _optimizers[r].ExportState();
    }

    /// <summary>
    /// The ranges' optimizer states as one: their slots end to end, and <see cref="OptimizerState.RangeSteps"/> when
    /// their step counts differ (a range whose optimizer restarted after an update that was not finite).
    /// </summary>
    private static OptimizerState Join(OptimizerState[] states)
    {
        if (states.Length == 1) return states[0];
        var slots = Enumerable.Range(0, states[0].Slots.Length)
            .Select(i => states.SelectMany(s => s.Slots[i]).ToArray()).ToArray();
        bool same = states.All(s => s.Steps == states[0].Steps);
        return new OptimizerState(states[0].Kind, states[0].Steps, slots) { RangeSteps = same ? null : [.. states.Select(s => s.Steps)] };
    }

    /// <summary>
    /// Goes on from a checkpoint: the parameters, the optimizer's state and the step count become those given (every
    /// range at that step).
    /// </summary>
    /// <exception cref="ArgumentException">The lengths or the optimizer kind do not match, or a parameter is not finite.</exception>
    public void Resume(long step, ReadOnlySpan<float> parameters, OptimizerState optimizer)
    {
        if (parameters.Length != _parameters.Length)
            throw new ArgumentException($"the checkpoint holds {parameters.Length} parameters, the shard {_parameters.Length}", nameof(parameters));
        if (parameters.Length > 0 && !float.IsFinite(TensorPrimitives.MaxMagnitude(parameters)))
            throw new ArgumentException("the checkpoint's parameters are not all finite", nameof(parameters));
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (optimizer.RangeSteps is { } counts && counts.Length != _ranges.Length)
            throw new ArgumentException($"the checkpoint's optimizer counts steps for {counts.Length} ranges, the shard closes {_ranges.Length}", nameof(optimizer));
        if (_optimizers.Length == 1) _optimizers[0].ImportState(optimizer);
        else
        {
            if (optimizer.Slots.Any(s => s.Length != _parameters.Length))
                throw new ArgumentException($"the checkpoint's optimizer slots are not of the shard's {_parameters.Length} values", nameof(optimizer));
            for (int r = 0; r < _ranges.Length; r++)
            {
                var range = _ranges[r];
                _optimizers[r].ImportState(optimizer with
                {
                    Steps = optimizer.RangeSteps?[r] ?? optimizer.Steps,
                    Slots = [.. optimizer.Slots.Select(s => s.AsSpan(range.Offset, range.Length).ToArray())],
                    RangeSteps = null,
                });
            }
        }
        parameters.CopyTo(_parameters);
        Array.Fill(_rangeSteps, step);
        _rangesAtStep = _ranges.Length;
        Step = step;
    }

    /// <summary>Releases the optimizers' state (device memory on an accelerator backend).</summary>
    public void Dispose()
    {
        foreach (var optimizer in _optimizers) optimizer.Dispose();
    }

    private static void CheckSamples(long samples)
    {
        if (samples is < 1 or > GradientLimits.MaxSampleCount)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"a step counts 1 to {GradientLimits.MaxSampleCount} rows");
    }

    private bool TryUpdate(int r, Span<float> gradientSum, long samples, double lossSum)
    {
        TensorPrimitives.Multiply(gradientSum, 1f / samples, gradientSum);
        double meanLoss = lossSum / samples;
        // MaxMagnitude returns the value of largest magnitude with its sign, and propagates NaN, which fails the comparison.
        float largest = gradientSum.Length > 0 ? MathF.Abs(TensorPrimitives.MaxMagnitude(gradientSum)) : 0f;
        if (!(largest <= GradientLimits.MaxMeanGradient))
            return Skip(r, $"mean gradient value {largest:G3} is beyond the limit {GradientLimits.MaxMeanGradient:G3}", resetOptimizer: false);
        if (!double.IsFinite(meanLoss))
            return Skip(r, $"mean loss {meanLoss} is not finite", resetOptimizer: false);

        var range = _ranges[r];
        var current = _parameters.AsSpan(range.Offset, range.Length);
        var next = _next.AsSpan(range.Offset, range.Length);
        current.CopyTo(next);
        _optimizers[r].Apply(next, gradientSum);
        if (next.Length > 0 && !float.IsFinite(TensorPrimitives.MaxMagnitude(next)))
            return Skip(r, "the update would make parameters non-finite", resetOptimizer: true);
        // One range: swap the buffers (no copy back); a range of several: copy it back, the others stay where they are.
        if (_ranges.Length == 1) (_parameters, _next) = (_next, _parameters);
        else next.CopyTo(current);
        LastMeanLoss = meanLoss;
        return true;
    }

    private bool Skip(int r, string reason, bool resetOptimizer)
    {
        UpdatesSkipped++;
        if (resetOptimizer)
        {
            _optimizers[r].Dispose();
            _optimizers[r] = _createOptimizer(_ranges[r].Length);
        }
        _log.Warning("Step {Step} closed without an update{Range}: {Reason}; the parameters are unchanged{Reset}",
            _rangeSteps[r], _ranges.Length == 1 ? "" : $" of range {_ranges[r]}", reason, resetOptimizer ? " and the optimizer state starts afresh" : "");
        return false;
    }
}
