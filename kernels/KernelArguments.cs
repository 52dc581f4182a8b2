namespace GpuPs.Kernels;

/// <summary>Argument checks shared by every backend, so that all backends reject bad calls with the same messages.</summary>
internal static class KernelArguments
{
    /// <summary>Checks a <see cref="IGradientKernel.SetData"/> call and returns the number of rows.</summary>
    public static int CheckData(ModelShape shape, ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        if (features.Length != labels.Length * (long)shape.Features)
            throw new ArgumentException($"features hold {features.Length} floats but {labels.Length} rows x {shape.Features} features need {labels.Length * (long)shape.Features}", nameof(features));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)shape.Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[i]} of row {i} is outside [0, {shape.Classes})");
        }
        return labels.Length;
    }

    /// <summary>Checks the parameter vector and the row range of a gradient or evaluation call.</summary>
    public static void CheckCall(ModelShape shape, int rows, ReadOnlySpan<float> parameters, int start, int count)
    {
        if (parameters.Length != shape.ParameterCount)
            throw new ArgumentException($"expected {shape.ParameterCount} parameters, got {parameters.Length}", nameof(parameters));
        if (start < 0 || count < 0 || start > rows - count)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start}+{count}) are outside the {rows} loaded rows");
    }

    public static void CheckGradient(ModelShape shape, Span<float> gradient)
    {
        if (gradient.Length != shape.ParameterCount)
            throw new ArgumentException($"gradient needs {shape.ParameterCount} floats, got {gradient.Length}", nameof(gradient));
    }

    public static void CheckOptimizerStep(int length, Span<float> parameters, ReadOnlySpan<float> gradient)
    {
        if (parameters.Length != length || gradient.Length != length)
            throw new ArgumentException($"optimizer was created for {length} parameters, got parameters[{parameters.Length}] and gradient[{gradient.Length}]");
    }
}
