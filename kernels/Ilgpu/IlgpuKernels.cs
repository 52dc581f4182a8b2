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
    private readonly Lazy<Action<Index1D, WorkSplit, RowBatch, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>>[] _forward;
    private readonly Lazy<Action<Index1D, WorkSplit, DenseGradientArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>>> _denseGradient;
    private readonly Lazy<Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>>[] _optimizer;

    public IlgpuKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        // Indexed by ModelKind.
        _forward = [Load(GradientDeviceKernels.LogisticForward), Load(GradientDeviceKernels.SoftmaxForward), Load(GradientDeviceKernels.MlpForward)];
        _denseGradient = new(() => accelerator.LoadAutoGroupedStreamKernel<Index1D, WorkSplit, DenseGradientArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GradientDeviceKernels.DenseGradient));
        // Indexed by OptimizerKind.
        _optimizer = [Load(OptimizerDeviceKernels.Sgd), Load(OptimizerDeviceKernels.Momentum), Load(OptimizerDeviceKernels.Adam)];
    }

    /// <summary>Pass 1 of <see cref="GradientDeviceKernels"/> for the model.</summary>
    public Action<Index1D, WorkSplit, RowBatch, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> Forward(ModelKind kind) =>
        _forward[(int)kind].Value;

    public Action<Index1D, WorkSplit, DenseGradientArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>> DenseGradient => _denseGradient.Value;

    public Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Optimizer(OptimizerKind kind) =>
        _optimizer[(int)kind].Value;

    private Lazy<Action<Index1D, WorkSplit, RowBatch, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>>> Load(
        Action<Index1D, WorkSplit, RowBatch, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>> kernel) =>
        new(() => _accelerator.LoadAutoGroupedStreamKernel(kernel));

    private Lazy<Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> Load(
        Action<Index1D, WorkSplit, OptimizerStepArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> kernel) =>
        new(() => _accelerator.LoadAutoGroupedStreamKernel(kernel));
}
