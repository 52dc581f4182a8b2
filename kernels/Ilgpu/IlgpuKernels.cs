using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// The compiled ILGPU kernels of one accelerator, each loaded (compiled) on first use and then cached: compiling is
/// the slow part (hundreds of ms per kernel on the CPU accelerator), launching is cheap. Thread-safe
/// (<see cref="Lazy{T}"/>); launches themselves must hold <see cref="IlgpuBackend.DeviceLock"/>.
/// </summary>
internal sealed class IlgpuKernels
{
    private readonly Accelerator _accelerator;
    private readonly Lazy<Action<Index1D, WorkSplit, RowBatch, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>> _softmaxRows, _logisticRows;
    private readonly Lazy<Action<Index1D, WorkSplit, int, ArrayView<float>, ArrayView<float>>> _biasRelu;
    private readonly Lazy<Action<Index1D, WorkSplit, ArrayView<float>, ArrayView<float>>> _reluMask;
    private readonly Lazy<Action<Index1D, WorkSplit, float, ArrayView<float>>> _fill;
    private readonly Lazy<Action<Index1D, WorkSplit, ModelShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> _blockRowBounds;
    private readonly Lazy<Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>>[] _optimizer;

    public IlgpuKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _softmaxRows = Load(GradientDeviceKernels.SoftmaxRows);
        _logisticRows = Load(GradientDeviceKernels.LogisticRows);
        _biasRelu = new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, int, ArrayView<float>, ArrayView<float>>(GradientDeviceKernels.BiasRelu));
        _reluMask = new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, ArrayView<float>, ArrayView<float>>(GradientDeviceKernels.ReluMask));
        _fill = new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, float, ArrayView<float>>(GradientDeviceKernels.Fill));
        _blockRowBounds = new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, ModelShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            GradientDeviceKernels.BlockRowBounds));
        // Indexed by OptimizerKind.
        _optimizer = [Load(OptimizerDeviceKernels.Sgd), Load(OptimizerDeviceKernels.Momentum), Load(OptimizerDeviceKernels.Adam)];
    }

    /// <summary>The output layer's row kernel of <see cref="GradientDeviceKernels"/> for the model.</summary>
    public Action<Index1D, WorkSplit, RowBatch, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> Rows(ModelKind kind) =>
        kind == ModelKind.Logistic ? _logisticRows.Value : _softmaxRows.Value;

    public Action<Index1D, WorkSplit, int, ArrayView<float>, ArrayView<float>> BiasRelu => _biasRelu.Value;

    public Action<Index1D, WorkSplit, ArrayView<float>, ArrayView<float>> ReluMask => _reluMask.Value;

    public Action<Index1D, WorkSplit, float, ArrayView<float>> Fill => _fill.Value;

    public Action<Index1D, WorkSplit, ModelShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> BlockRowBounds => _blockRowBounds.Value;

    public Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Optimizer(OptimizerKind kind) =>
        _optimizer[(int)kind].Value;

    private Lazy<Action<Index1D, WorkSplit, RowBatch, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>> Load(
        Action<Index1D, WorkSplit, RowBatch, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> kernel) =>
        new(() => _accelerator.LoadAutoGroupedStreamKernel(kernel));

    private Lazy<Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> Load(
        Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> kernel) =>
        new(() => _accelerator.LoadAutoGroupedStreamKernel(kernel));
}
