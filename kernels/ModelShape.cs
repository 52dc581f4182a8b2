namespace GpuPs.Kernels;

/// <summary>The models GpuPs trains. All use a softmax/sigmoid cross-entropy loss.</summary>
public enum ModelKind
{
    /// <summary>Binary logistic regression: parameters w[features], then b. Labels 0/1.</summary>
    Logistic,
    /// <summary>Multinomial logistic regression: W[classes x features] row-major, then b[classes].</summary>
    Softmax,
    /// <summary>Two-layer perceptron with ReLU: W1[hidden x features], b1[hidden], W2[classes x hidden], b2[classes].</summary>
    Mlp,
}

/// <summary>Shape of a model and the layout of its flat float32 parameter vector.</summary>
public readonly record struct ModelShape(ModelKind Kind, int Features, int Classes, int Hidden = 0)
{
    /// <summary>Length of the flat parameter vector.</summary>
    public int ParameterCount => Kind switch
    {
        ModelKind.Logistic => Features + 1,
        ModelKind.Softmax => Classes * Features + Classes,
        ModelKind.Mlp => Hidden * Features + Hidden + Classes * Hidden + Classes,
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <summary>Throws <see cref="ArgumentException"/> with a readable message when the shape is impossible.</summary>
    public void Validate()
    {
        if (Features <= 0) throw new ArgumentException($"model needs at least one feature (got {Features})");
        if (Classes < 2) throw new ArgumentException($"model needs at least two classes (got {Classes})");
        if (Kind == ModelKind.Logistic && Classes != 2) throw new ArgumentException($"logistic regression is binary; the data has {Classes} classes (use softmax)");
        if (Kind == ModelKind.Mlp && Hidden <= 0) throw new ArgumentException($"MLP needs hidden > 0 (got {Hidden})");
    }
}
