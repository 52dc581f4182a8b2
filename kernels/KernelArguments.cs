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

    /// <summary>Checks a <see cref="IGradientKernel.LoadParameters"/> call.</summary>
    public static void CheckParameters(ModelShape shape, ReadOnlySpan<float> parameters)
    {
        if (parameters.Length != shape.ParameterCount)
            throw new ArgumentException($"expected {shape.ParameterCount} parameters, got {parameters.Length}", nameof(parameters));
    }

    /// <summary>Checks the row range of a gradient or evaluation call and that parameters were loaded for it.</summary>
    public static void CheckCall(int rows, bool parametersLoaded, int start, int count)
    {
        if (start < 0 || count < 0 || start > rows - count)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start}+{count}) are outside the {rows} loaded rows");
        if (!parametersLoaded)
            throw new InvalidOperationException($"no parameters loaded: call {nameof(IGradientKernel.LoadParameters)} first");
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

    /// <summary>Checks a <see cref="IOptimizerKernel.ImportState"/> call.</summary>
    public static void CheckOptimizerState(OptimizerSettings settings, int length, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(state.Slots, nameof(state));
        if (state.Kind != settings.Kind)
            throw new ArgumentException($"cannot import {state.Kind} state into a {settings.Kind} optimizer", nameof(state));
        int slots = OptimizerState.SlotCount(settings.Kind);
        if (state.Slots.Length != slots)
            throw new ArgumentException($"{settings.Kind} state has {slots} slots, got {state.Slots.Length}", nameof(state));
        for (int i = 0; i < slots; i++)
        {
            if (state.Slots[i]?.Length != length)
                throw new ArgumentException($"state slot {i} holds {state.Slots[i]?.Length ?? 0} floats; the optimizer was created for {length}", nameof(state));
        }
        if (state.Steps < 0)
            throw new ArgumentException($"state has {state.Steps} steps; steps cannot be negative", nameof(state));
    }
}
