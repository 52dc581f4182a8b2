using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

public sealed class ModelInitializerTests
{
    [Fact]
    public void SameSeedGivesSameParametersAndOtherSeedDiffers()
    {
        var shape = new ModelShape(ModelKind.Mlp, Features: 10, Classes: 3, Hidden: 6);
        Assert.Equal(ModelInitializer.Initialize(shape, 42), ModelInitializer.Initialize(shape, 42));
        Assert.NotEqual(ModelInitializer.Initialize(shape, 42), ModelInitializer.Initialize(shape, 43));
    }

    [Fact]
    public void MlpUsesHeAndXavierBoundsAndZeroBiases()
    {
        var shape = new ModelShape(ModelKind.Mlp, Features: 50, Classes: 4, Hidden: 20);
        var p = ModelInitializer.Initialize(shape, 7);
        int w1 = 20 * 50, b1 = 20, w2 = 4 * 20;
        Assert.Equal(shape.ParameterCount, p.Length);
        var firstLayer = p.AsSpan(0, w1).ToArray();
        var secondLayer = p.AsSpan(w1 + b1, w2).ToArray();
        Assert.All(firstLayer, v => Assert.InRange(MathF.Abs(v), 0, MathF.Sqrt(6f / 50)));
        Assert.All(secondLayer, v => Assert.InRange(MathF.Abs(v), 0, MathF.Sqrt(6f / 24)));
        Assert.True(firstLayer.Max(MathF.Abs) > 0.5f * MathF.Sqrt(6f / 50), "W1 should fill its range");
        Assert.All(p.AsSpan(w1, b1).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(p.AsSpan(w1 + b1 + w2).ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(ModelKind.Logistic, 2)]
    [InlineData(ModelKind.Softmax, 5)]
    public void LinearModelsStartAtZero(ModelKind kind, int classes)
    {
        var p = ModelInitializer.Initialize(new ModelShape(kind, Features: 8, Classes: classes), 1);
        Assert.All(p, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void InvalidShapeIsRejected() =>
        Assert.Throws<ArgumentException>(() => ModelInitializer.Initialize(new ModelShape(ModelKind.Mlp, 3, 2), 1));
}
