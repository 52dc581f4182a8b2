using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// ILGPU backend: CUDA, OpenCL or the ILGPU CPU accelerator. Owns the ILGPU <see cref="Context"/> and
/// <see cref="Accelerator"/> (disposed accelerator first). Create through <see cref="Accelerators.Create"/>.
/// Thread-safe: kernel objects created from it may run on different threads; their device work (uploads, launches,
/// downloads) is serialized by <see cref="DeviceLock"/>, so each call blocks until its results are on the host.
/// </summary>
public sealed class IlgpuBackend : IComputeBackend
{
    private readonly Context _context;
    private readonly DeviceArray<float> _combinationInputs;
    private readonly DeviceArray<float> _combinationCoefficients;
    private readonly DeviceArray<float> _combinationOutput;

    /// <summary>Takes ownership of <paramref name="context"/> and creates the accelerator for <paramref name="device"/>.</summary>
    internal IlgpuBackend(Context context, Device device, AcceleratorChoice kind)
    {
        _context = context;
        Accelerator = device.CreateAccelerator(context);
        Kind = kind;
        DeviceName = kind == AcceleratorChoice.Cpu
            ? $"ILGPU CPU accelerator ({Environment.ProcessorCount} cores)"
            : $"{Accelerator.Name} ({kind})";
        Kernels = new IlgpuKernels(Accelerator);
        Launch = new LaunchPlan(Accelerator);
        _combinationInputs = new DeviceArray<float>(Accelerator);
        _combinationCoefficients = new DeviceArray<float>(Accelerator);
        _combinationOutput = new DeviceArray<float>(Accelerator);
    }

    public AcceleratorChoice Kind { get; }

    public string DeviceName { get; }

    internal Accelerator Accelerator { get; }

    internal IlgpuKernels Kernels { get; }

    internal LaunchPlan Launch { get; }

    /// <summary>Held for every sequence of device operations: one accelerator stream is shared by all kernel objects.</summary>
    internal object DeviceLock { get; } = new();

    public IGradientKernel CreateGradientKernel(ModelShape shape) => new IlgpuGradientKernel(this, shape);

    public IOptimizerKernel CreateOptimizer(OptimizerSettings settings, int length) => new IlgpuOptimizer(this, settings, length);

    /// <summary>Uploads the inputs stacked into one device buffer, combines them on the device, downloads the result.</summary>
    public void LinearCombination(ReadOnlySpan<float> coefficients, IReadOnlyList<float[]> inputs, Span<float> output)
    {
        KernelArguments.CheckLinearCombination(coefficients, inputs, output);
        int n = output.Length;
        if (inputs.Count == 0 || n == 0)
        {
            output.Clear();
            return;
        }
        lock (DeviceLock)
        {
            Accelerator.Bind();
            var stacked = _combinationInputs.View(checked(inputs.Count * n));
            for (int j = 0; j < inputs.Count; j++) stacked.SubView(j * n, n).CopyFromCPU(inputs[j]);
            var result = _combinationOutput.View(n);
            var split = Launch.Split(n);
            Kernels.LinearCombination(split.Threads, split, _combinationCoefficients.Upload(coefficients), stacked, result);
            result.CopyToCPU(output);
        }
    }

    /// <summary>
    /// <c>y += a·x</c> on device buffers, waiting for completion: the device-only baseline of
    /// <see cref="KernelBenchmark"/> (no transfers).
    /// </summary>
    internal void Axpy(float a, ArrayView<float> x, ArrayView<float> y)
    {
        lock (DeviceLock)
        {
            Accelerator.Bind();
            var split = Launch.Split(x.IntLength);
            Kernels.Axpy(split.Threads, split, a, x, y);
            Accelerator.Synchronize();
        }
    }

    public void Dispose()
    {
        _combinationInputs.Dispose();
        _combinationCoefficients.Dispose();
        _combinationOutput.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}
