using GpuPs.Core.Tensors;

namespace GpuPs.Core.Tests.Tensors;

public class ParallelTensorTests
{
    [Theory]
    [InlineData(1, 1f)]
    [InlineData(1000, 1f)]
    [InlineData(ParallelTensor.MinParallelLength * 3 + 7, 1f)]    // split over the cores, uneven last part
    [InlineData(ParallelTensor.MinParallelLength * 3 + 7, -0.25f)]
    public void Adds_scaled_values_into_the_accumulator_like_a_scalar_loop(int length, float scale)
    {
        var random = new Random(length);
        var accumulator = Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray();
        var values = Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray();
        var expected = accumulator.Zip(values, (a, v) => a + scale * v).ToArray();

        ParallelTensor.MultiplyAdd(accumulator, values, scale);

        for (int i = 0; i < length; i++) Assert.Equal(expected[i], accumulator[i], 1e-6f);
    }

    [Theory]
    [InlineData(13, 33.3)]
    [InlineData(ParallelTensor.MinParallelLength * 3 + 7, -1e4)]
    public void Widening_multiply_add_is_exact_float64_arithmetic_and_narrows_by_rounding(int length, double scale)
    {
        var random = new Random(length);
        var values = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var accumulator = Enumerable.Range(0, length).Select(_ => random.NextDouble()).ToArray();
        var expected = accumulator.Zip(values, (a, v) => a + scale * v).ToArray();

        ParallelTensor.MultiplyAddWidening(accumulator, values, scale);
        Assert.Equal(expected, accumulator);   // one float64 multiply and add per element, like the scalar loop

        var narrowed = new float[length];
        ParallelTensor.Narrow(narrowed, accumulator);
        for (int i = 0; i < length; i++) Assert.Equal((float)accumulator[i], narrowed[i]);
        Assert.Throws<ArgumentException>(() => ParallelTensor.MultiplyAddWidening(new double[3], new float[4], 1));
    }

    [Fact]
    public void Refuses_vectors_of_different_lengths()
    {
        var e = Assert.Throws<ArgumentException>(() => ParallelTensor.Add(new float[4], new float[5]));
        Assert.Contains("cannot add 5 values into 4", e.Message);
    }
}
