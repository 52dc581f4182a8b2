using GpuPs.Core.Data;
using GpuPs.Kernels;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// Loss and accuracy of a parameter vector on the train and test sets, on one device: the workers' GPU where they have
/// one (an H100 evaluates the 1M-parameter MLP on 100,000 rows in milliseconds, where SIMD took seconds per
/// evaluation), else SIMD. The ILGPU kernels bound their own per-row buffers (they evaluate a large set in row chunks).
/// </summary>
public sealed class ModelEvaluator : IDisposable
{
    private readonly IComputeBackend _backend;
    private readonly IGradientKernel _train, _test;

    /// <param name="data">The prepared train and test sets.</param>
    /// <param name="shape">The model.</param>
    /// <param name="device">Where to evaluate (see <see cref="DeviceFor"/>); SIMD by default.</param>
    /// <param name="log">Told when the device cannot take the data (e.g. its memory is full) and SIMD evaluates instead.</param>
    public ModelEvaluator(PreparedData data, ModelShape shape, AcceleratorChoice device = AcceleratorChoice.Simd, Serilog.ILogger? log = null)
    {
        try
        {
            (_backend, _train, _test) = Load(data, shape, device);
        }
        catch (Exception e) when (device != AcceleratorChoice.Simd && e is not OutOfMemoryException)
        {
            (log ?? Serilog.Log.Logger).Warning("Evaluating on SIMD: the {Device} device could not take the data ({Error})", device, e.Message);
            (_backend, _train, _test) = Load(data, shape, AcceleratorChoice.Simd);
        }
    }

    /// <summary>Device, train and test kernels with their data, or nothing left behind when a step fails.</summary>
    private static (IComputeBackend, IGradientKernel, IGradientKernel) Load(PreparedData data, ModelShape shape, AcceleratorChoice device)
    {
        var backend = Accelerators.Create(device);
        IGradientKernel? train = null, test = null;
        try
        {
            train = backend.CreateGradientKernel(shape);
            train.SetData(data.Train.Features, data.Train.Labels);
            test = backend.CreateGradientKernel(shape);
            test.SetData(data.Test.Features, data.Test.Labels);
            return (backend, train, test);
        }
        catch
        {
            test?.Dispose();
            train?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    /// <summary>The device a job's evaluations run on: CUDA or OpenCL if any worker uses it, auto if any worker does, else SIMD (faster than the ILGPU CPU accelerator).</summary>
    public static AcceleratorChoice DeviceFor(IEnumerable<AcceleratorChoice> workerDevices)
    {
        var devices = workerDevices.ToHashSet();
        return devices.Contains(AcceleratorChoice.Cuda) ? AcceleratorChoice.Cuda
            : devices.Contains(AcceleratorChoice.OpenCL) ? AcceleratorChoice.OpenCL
            : devices.Contains(AcceleratorChoice.Auto) ? AcceleratorChoice.Auto
            : AcceleratorChoice.Simd;
    }

    public (EvaluationResult Train, EvaluationResult Test) Evaluate(ReadOnlySpan<float> parameters)
    {
        _train.LoadParameters(parameters);
        _test.LoadParameters(parameters);
        return (_train.Evaluate(0, _train.Rows), _test.Evaluate(0, _test.Rows));
    }

    public void Dispose()
    {
        _train.Dispose();
        _test.Dispose();
        _backend.Dispose();
    }
}
