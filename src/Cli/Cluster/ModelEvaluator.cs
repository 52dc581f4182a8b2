using GpuPs.Core.Data;
using GpuPs.Kernels;

namespace GpuPs.Cli.Cluster;

/// <summary>
/// Loss and accuracy of a parameter vector on the train and test sets, on one device: the workers' GPU where they have
/// one (an H100 evaluates the 1M-parameter MLP on 100,000 rows in milliseconds, where SIMD took seconds per
/// evaluation), else SIMD. Rows go through in chunks, so a device's per-row buffers stay bounded whatever the data size.
/// </summary>
public sealed class ModelEvaluator : IDisposable
{
    /// <summary>Rows per <see cref="IGradientKernel.Evaluate"/> call: bounds the per-row device buffers (the MLP's hidden layer).</summary>
    public const int ChunkRows = 16_384;

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
        IGradientKernel? train = null;
        try
        {
            train = backend.CreateGradientKernel(shape);
            train.SetData(data.Train.Features, data.Train.Labels);
            var test = backend.CreateGradientKernel(shape);
            try
            {
                test.SetData(data.Test.Features, data.Test.Labels);
                return (backend, train, test);
            }
            catch
            {
                test.Dispose();
                throw;
            }
        }
        catch
        {
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
        return (EvaluateAll(_train), EvaluateAll(_test));
    }

    private static EvaluationResult EvaluateAll(IGradientKernel kernel)
    {
        double loss = 0;
        int correct = 0;
        for (int start = 0; start < kernel.Rows; start += ChunkRows)
        {
            var chunk = kernel.Evaluate(start, Math.Min(ChunkRows, kernel.Rows - start));
            loss += chunk.LossSum;
            correct += chunk.Correct;
        }
        return new EvaluationResult(loss, correct, kernel.Rows);
    }

    public void Dispose()
    {
        _train.Dispose();
        _test.Dispose();
        _backend.Dispose();
    }
}
