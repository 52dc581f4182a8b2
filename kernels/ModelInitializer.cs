namespace GpuPs.Kernels;

/// <summary>Deterministic initial parameters for a <see cref="ModelShape"/>. Thread-safe (no shared state).</summary>
public static class ModelInitializer
{
    /// <summary>
    /// Returns a fresh parameter vector: zeros for logistic and softmax regression (their losses are convex, so zero
    /// is the usual start); for the MLP, Kaiming/He-uniform W1 (bound √(6/features), suited to ReLU), Xavier-uniform
    /// W2 (bound √(6/(hidden+classes))) and zero biases. The same seed always gives the same vector.
    /// </summary>
    public static float[] Initialize(ModelShape shape, ulong seed)
    {
        shape.Validate();
        var parameters = new float[shape.ParameterCount];
        if (shape.Kind != ModelKind.Mlp) return parameters;

        // System.Random with an explicit seed uses the stable legacy generator: same sequence on every .NET version.
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        int w1 = shape.Hidden * shape.Features;
        int w2Start = w1 + shape.Hidden;
        int w2 = shape.Classes * shape.Hidden;
        FillUniform(random, parameters.AsSpan(0, w1), MathF.Sqrt(6f / shape.Features));
        FillUniform(random, parameters.AsSpan(w2Start, w2), MathF.Sqrt(6f / (shape.Hidden + shape.Classes)));
        return parameters;
    }

    private static void FillUniform(Random random, Span<float> values, float bound)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
    }
}
