using GpuPs.Core.Shards;
using GpuPs.Core.Tensors;

namespace GpuPs.Core.Aggregation;

/// <summary>
/// The running sum of one step's plain gradient pushes: gradient sums, row counts and loss sums. Applying it makes one
/// optimizer step with the mean gradient over every row pushed, then starts the next step empty.
/// </summary>
public sealed class GradientSum(int length)
{
    private readonly float[] _sum = new float[length];
    private long _samples;
    private double _loss;

    /// <summary>No rows added since the last <see cref="ApplyTo(ShardModel)"/>.</summary>
    public bool IsEmpty => _samples == 0;

    /// <summary>
    /// Adds one push (its values within <see cref="GradientLimits"/>, as the shard checks). Throws
    /// <see cref="ShardException"/> (InvalidRequest) and adds nothing when the step would count more than
    /// <see cref="GradientLimits.MaxSampleCount"/> rows or its loss sum would overflow (<see cref="Check"/>).
    /// </summary>
    public void Add(ReadOnlySpan<float> gradientSum, long samples, double lossSum)
    {
        Check(samples, lossSum);
        ParallelTensor.Add(_sum, gradientSum);
        _samples += samples;
        _loss += lossSum;
    }

    /// <summary>
    /// Throws <see cref="ShardException"/> (InvalidRequest) when adding a push of <paramref name="samples"/> rows and
    /// <paramref name="lossSum"/> would take the step past <see cref="GradientLimits.MaxSampleCount"/> rows or overflow
    /// its loss sum: a push that adds to several sums checks each before it adds to any.
    /// </summary>
    public void Check(long samples, double lossSum)
    {
        // Both terms are at most MaxSampleCount (2^40), so the comparison itself cannot overflow.
        if (samples > GradientLimits.MaxSampleCount - _samples)
            throw ShardException.Invalid($"push of {samples} rows would take the step past {GradientLimits.MaxSampleCount} rows (it has {_samples})");
        if (!double.IsFinite(_loss + lossSum))
            throw ShardException.Invalid($"loss sum {lossSum} would make the step's loss sum overflow");
    }

    /// <summary>
    /// Closes the model's step with the mean gradient over the rows added (<see cref="ShardModel.ApplySum"/>, which
    /// throws when none were), then empties the sum.
    /// </summary>
    public void ApplyTo(ShardModel model)
    {
        model.ApplySum(_sum, _samples, _loss);
        Clear();
    }

    /// <summary>
    /// Closes range <paramref name="range"/> of the model's step with the mean gradient over the rows added (this sum is
    /// of that range's length; <see cref="ShardModel.ApplyRange"/>), then empties the sum.
    /// </summary>
    public void ApplyTo(ShardModel model, int range)
    {
        model.ApplyRange(range, _sum, _samples, _loss);
        Clear();
    }

    private void Clear()
    {
        Array.Clear(_sum);
        _samples = 0;
        _loss = 0;
    }
}
