using GpuPs.Core.Data;
using GpuPs.Kernels;

namespace GpuPs.Cli.Cluster;

/// <summary>Loss and accuracy of a parameter vector on the train and test sets, on the SIMD backend.</summary>
public sealed class ModelEvaluator : IDisposable
{
    private readonly IComputeBackend _backend = Accelerators.Create(AcceleratorChoice.Simd);
    private readonly IGradientKernel _train, _test;

    public ModelEvaluator(PreparedData data, ModelShape shape)
    {
        _train = _backend.CreateGradientKernel(shape);
        _train.SetData(data.Train.Features, data.Train.Labels);
        _test = _backend.CreateGradientKernel(shape);
        _test.SetData(data.Test.Features, data.Test.Labels);
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
