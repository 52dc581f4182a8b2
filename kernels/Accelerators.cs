using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Serilog;

namespace GpuPs.Kernels;

/// <summary>Creates compute backends and probes which devices exist. Thread-safe.</summary>
public static class Accelerators
{
    private static readonly Lazy<bool> CudaPresent = new(() => ProbeIlgpu(b => b.Cuda(), ctx => ctx.GetCudaDevices().Count > 0));
    private static readonly Lazy<bool> OpenCLPresent = new(() => ProbeIlgpu(b => b.OpenCL(), ctx => ctx.GetCLDevices().Count > 0));

    /// <summary>
    /// Creates the backend for <paramref name="choice"/> and logs the device. <see cref="AcceleratorChoice.Auto"/>:
    /// CUDA if a CUDA device exists, else OpenCL if ILGPU accepts a device (it rejects e.g. Debian's PoCL), else SIMD.
    /// <see cref="AcceleratorChoice.Cpu"/> is the ILGPU CPU accelerator with one multiprocessor per core.
    /// </summary>
    /// <param name="choice">The device.</param>
    /// <param name="log">Where the device (and a cuBLAS that does not load) is logged; the global logger by default.</param>
    /// <param name="products">How ILGPU backends multiply matrices: cuBLAS where it loads on CUDA by default.</param>
    /// <exception cref="InvalidOperationException">CUDA or OpenCL was asked for and is not usable.</exception>
    /// <exception cref="MatrixProductUnavailableException">cuBLAS was asked for and cannot run there.</exception>
    public static IComputeBackend Create(AcceleratorChoice choice, ILogger? log = null, MatrixProductChoice products = MatrixProductChoice.Auto)
    {
        log ??= Log.Logger;
        var setup = new IlgpuSetup(products, log);
        string? reason = null;
        IComputeBackend backend = choice switch
        {
            AcceleratorChoice.Simd => new SimdBackend(),
            AcceleratorChoice.Cpu => CreateIlgpuCpu(setup),
            AcceleratorChoice.Cuda => TryCreateCuda(setup, out reason)
                ?? throw new InvalidOperationException($"no CUDA device found ({reason}); use --accelerator cpu or simd"),
            AcceleratorChoice.OpenCL => TryCreateOpenCL(setup, out reason)
                ?? throw new InvalidOperationException($"no usable OpenCL device found ({reason}); use --accelerator cpu or simd"),
            AcceleratorChoice.Auto => CreateAuto(setup),
            _ => throw new ArgumentOutOfRangeException(nameof(choice), choice, "unknown accelerator choice"),
        };
        log.Information("Compute device {Device} ({Backend})", backend.DeviceName, backend.Kind);
        return backend;
    }

    /// <summary>
    /// Whether ILGPU lists a device for <paramref name="choice"/> (CPU paths: always). Probed once per process and
    /// cached; a listed device can still fail in <see cref="Create"/> when its driver misbehaves.
    /// </summary>
    public static bool IsAvailable(AcceleratorChoice choice) => choice switch
    {
        AcceleratorChoice.Cuda => CudaPresent.Value,
        AcceleratorChoice.OpenCL => OpenCLPresent.Value,
        _ => true,
    };

    private static IComputeBackend CreateAuto(IlgpuSetup setup)
    {
        if (TryCreateCuda(setup, out string cudaReason) is { } cuda) return cuda;
        setup.Log.Debug("CUDA not used: {Reason}", cudaReason);
        if (TryCreateOpenCL(setup, out string openClReason) is { } openCl) return openCl;
        setup.Log.Debug("OpenCL not used: {Reason}", openClReason);
        return new SimdBackend();
    }

    /// <summary>
    /// The ILGPU CPU accelerator with 2 threads per warp, 1 warp per multiprocessor and one multiprocessor per core:
    /// with the contiguous-block launches of <see cref="LaunchPlan"/> this measured 1.4 ms for a 1M-float axpy
    /// against ~2 s with ILGPU's default CPU device and one element per thread.
    /// </summary>
    private static IlgpuBackend CreateIlgpuCpu(IlgpuSetup setup)
    {
        var device = new CPUDevice(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 1, numMultiprocessors: Environment.ProcessorCount);
        var context = Context.Create(b => b.CPU(device).EnableAlgorithms());
        try
        {
            return new IlgpuBackend(context, context.GetCPUDevice(0), AcceleratorChoice.Cpu, setup.Products, setup.Log);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static IlgpuBackend? TryCreateCuda(IlgpuSetup setup, out string reason) =>
        TryCreateIlgpu(b => b.Cuda(), ctx => ctx.GetCudaDevices().Count > 0 ? ctx.GetCudaDevices()[0] : null, AcceleratorChoice.Cuda, setup, out reason);

    private static IlgpuBackend? TryCreateOpenCL(IlgpuSetup setup, out string reason) =>
        TryCreateIlgpu(b => b.OpenCL(), ctx => ctx.GetCLDevices().Count > 0 ? ctx.GetCLDevices()[0] : null, AcceleratorChoice.OpenCL, setup, out reason);

    /// <summary>
    /// Builds a context with one ILGPU backend and an accelerator on its first device; null (with the reason) when
    /// the driver is missing, no device exists, or ILGPU rejects the device.
    /// </summary>
    private static IlgpuBackend? TryCreateIlgpu(Action<Context.Builder> configure, Func<Context, Device?> firstDevice,
        AcceleratorChoice kind, IlgpuSetup setup, out string reason)
    {
        Context? context = null;
        try
        {
            context = Context.Create(b => configure(b.EnableAlgorithms()));
            if (firstDevice(context) is not { } device)
            {
                context.Dispose();
                reason = "ILGPU found no device (driver missing, no hardware, or device not supported)";
                return null;
            }
            reason = "";
            return new IlgpuBackend(context, device, kind, setup.Products, setup.Log);
        }
        catch (MatrixProductUnavailableException)
        {
            context?.Dispose();
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            context?.Dispose();
            reason = $"{e.GetType().Name}: {e.Message}";
            return null;
        }
    }

    private static bool ProbeIlgpu(Action<Context.Builder> configure, Func<Context, bool> hasDevice)
    {
        try
        {
            using var context = Context.Create(configure);
            return hasDevice(context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>What every ILGPU backend of one <see cref="Create"/> call is built with.</summary>
    private readonly record struct IlgpuSetup(MatrixProductChoice Products, ILogger Log);
}
