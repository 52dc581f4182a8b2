using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IOptimizerKernel"/> on an ILGPU accelerator (rules of <see cref="SimdOptimizer"/>): the state
/// (velocity, Adam moments) lives on the device; each step uploads parameters and gradient, runs one
/// <see cref="OptimizerDeviceKernels"/> launch and downloads the parameters. Blocking; not thread-safe.
/// </summary>
public sealed class IlgpuOptimizer : IOptimizerKernel
{
    private readonly IlgpuBackend _backend;
    private readonly DeviceArray<float> _parameters, _gradient, _first, _second;
    private readonly int _firstLength, _secondLength;  // state the rule uses; 1 (a placeholder) where it has none

    internal IlgpuOptimizer(IlgpuBackend backend, OptimizerSettings settings, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _backend = backend;
        Settings = settings;
        Length = length;
        var accelerator = backend.Accelerator;
        lock (backend.DeviceLock)
        {
            accelerator.Bind();
            _parameters = new(accelerator, length);
            _gradient = new(accelerator, length);
            _firstLength = settings.Kind == OptimizerKind.Sgd ? 1 : Math.Max(1, length);
            _secondLength = settings.Kind == OptimizerKind.Adam ? Math.Max(1, length) : 1;
            _first = new(accelerator, _firstLength);
            _second = new(accelerator, _secondLength);
            // Velocity and moments start at zero.
            _first.View(_firstLength).MemSetToZero();
            _second.View(_secondLength).MemSetToZero();
        }
    }

    /// <inheritdoc />
    public OptimizerSettings Settings { get; }
    /// <inheritdoc />
    public int Length { get; }
    /// <inheritdoc />
    public long Steps { get; private set; }

    /// <inheritdoc />
    public void Apply(Span<float> parameters, ReadOnlySpan<float> gradient)
    {
        KernelArguments.CheckOptimizerStep(Length, parameters, gradient);
        Steps++;
        if (Length == 0) return;
        var s = Settings;
        var scalars = OptimizerStepScalars.For(s, Steps);
        var args = new OptimizerStepArgs(s.LearningRate, s.Momentum, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay,
            scalars.BiasCorrection1, scalars.BiasCorrection2);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            var deviceParameters = _parameters.Upload(parameters);
            var split = _backend.Launch.Split(Length);
            _backend.Kernels.Optimizer(s.Kind)(split.Threads, split, args, deviceParameters, _gradient.Upload(gradient),
                _first.View(_firstLength), _second.View(_secondLength));
            deviceParameters.CopyToCPU(parameters);
        }
    }

    /// <summary>Downloads the state vectors (one parameter-sized copy each).</summary>
    public OptimizerState ExportState()
    {
        var slots = new float[OptimizerState.SlotCount(Settings.Kind)][];
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            for (int i = 0; i < slots.Length; i++)
            {
                slots[i] = new float[Length];
                if (Length > 0) Slot(i).View(Length).CopyToCPU(slots[i]);
            }
        }
        return new OptimizerState(Settings.Kind, Steps, slots);
    }

    /// <summary>Uploads the state vectors (one parameter-sized copy each).</summary>
    public void ImportState(OptimizerState state)
    {
        KernelArguments.CheckOptimizerState(Settings, Length, state);
        if (Length > 0)
        {
            lock (_backend.DeviceLock)
            {
                _backend.Accelerator.Bind();
                for (int i = 0; i < state.Slots.Length; i++) Slot(i).View(Length).CopyFromCPU(state.Slots[i]);
            }
        }
        Steps = state.Steps;
    }

    /// <summary>State vector <paramref name="index"/> in <see cref="OptimizerState"/> order: m (or the velocity), then v.</summary>
    private DeviceArray<float> Slot(int index) => index == 0 ? _first : _second;

    /// <summary>Frees the device buffers (parameters, gradient, state); call it before disposing the backend.</summary>
    public void Dispose()
    {
        lock (_backend.DeviceLock)
        {
            _parameters.Dispose();
            _gradient.Dispose();
            _first.Dispose();
            _second.Dispose();
        }
    }
}
