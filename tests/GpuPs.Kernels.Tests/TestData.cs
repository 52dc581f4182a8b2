using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>Seeded random data sets, parameters and tolerant comparisons for the kernel tests.</summary>
public static class TestData
{
    public static readonly ModelShape Logistic = new(ModelKind.Logistic, Features: 7, Classes: 2);
    public static readonly ModelShape Softmax = new(ModelKind.Softmax, Features: 7, Classes: 4);
    public static readonly ModelShape Mlp = new(ModelKind.Mlp, Features: 7, Classes: 4, Hidden: 5);

    /// <summary>Shape names for <c>[Theory]</c> data (xunit needs serializable arguments).</summary>
    public static TheoryData<string> ShapeNames => new() { "logistic", "softmax", "mlp" };

    public static ModelShape Shape(string name) => name switch
    {
        "logistic" => Logistic,
        "softmax" => Softmax,
        "mlp" => Mlp,
        _ => throw new ArgumentException(name),
    };

    public sealed record DataSet(float[] Features, int[] Labels)
    {
        public int Rows => Labels.Length;
    }

    public static DataSet Data(ModelShape shape, int rows, int seed = 1)
    {
        var random = new Random(seed);
        var features = new float[rows * shape.Features];
        for (int i = 0; i < features.Length; i++) features[i] = (float)(random.NextDouble() * 4 - 2);
        var labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = random.Next(shape.Classes);
        return new DataSet(features, labels);
    }

    /// <summary>Random parameters in ±<paramref name="bound"/>, large enough that every term of the gradient matters.</summary>
    public static float[] Parameters(ModelShape shape, int seed = 2, double bound = 0.8) => Vector(shape.ParameterCount, seed, bound);

    public static float[] Vector(int length, int seed, double bound = 1)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>
    /// Asserts <c>|actual - expected| ≤ relative · (|expected| + 0.1·max|expected|) + 1e-6</c> element-wise: relative for
    /// large entries, and small entries judged against the vector's scale (float sums cancel there).
    /// </summary>
    public static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double relative, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        double scale = expected.Count == 0 ? 0 : expected.Max(Math.Abs);
        for (int i = 0; i < expected.Count; i++)
        {
            double tolerance = relative * (Math.Abs(expected[i]) + 0.1 * scale) + 1e-6;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9} (tolerance {tolerance:G3})");
        }
    }

    public static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double relative, string what) =>
        AssertClose(expected.Select(v => (double)v).ToArray(), actual, relative, what);

    public static void AssertClose(double expected, double actual, double relative, string what) =>
        Assert.True(Math.Abs(actual - expected) <= relative * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected:G9}, got {actual:G9}");
}
