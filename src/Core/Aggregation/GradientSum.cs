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

    public bool IsEmpty => _samples == 0;

    public void Add(ReadOnlySpan<float> gradientSum, long samples, double lossSum)
    {
        ParallelTensor.Add(_sum, gradientSum);
        _samples += samples;
        _loss += lossSum;
    }

    public void ApplyTo(ShardModel model)
    {
        model.ApplySum(_sum, _samples, _loss);
        Array.Clear(_sum);
        _samples = 0;
        _loss = 0;
    }
}
