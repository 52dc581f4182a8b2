using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IGradientKernel"/> on an ILGPU accelerator. <see cref="SetData"/> uploads the data once; the loaded
/// parameters and the gradient accumulator live in device buffers. Each gradient call runs
/// <see cref="GradientDeviceKernels"/> pass 1 over the rows and pass 2 per parameter, which scales and adds into the
/// accumulator on the device, and downloads only the per-row losses (summed on the host in double). Deterministic.
/// Per-row device buffers grow to the largest batch seen. Blocking; not thread-safe (one object per worker thread;
/// device work is serialized across objects by the backend).
/// </summary>
/// <remarks>
/// Parameter-sized transfers per step: one upload (<see cref="LoadParameters"/>) and one download per
/// <see cref="ReadGradient"/>, whatever the number of ranges and partitions added: a coded step over s+1 partitions
/// moves 2 full vectors, where the earlier per-call API moved 3(s+1)−1 (with one row range per partition: a parameter
/// upload and a gradient download per call, and a gradient upload per accumulating call). Each gradient call also
/// downloads one float per row (the losses), and <see cref="Evaluate"/> one float and one int per row.
/// </remarks>
public sealed class IlgpuGradientKernel : IGradientKernel
{
    private readonly IlgpuBackend _backend;
    private readonly int _outputsPerRow;  // residual width: 1 for logistic, Classes otherwise
    private readonly DeviceArray<float> _features, _parameters, _accumulator, _discarded, _outputs, _hidden, _hiddenDelta, _rowLoss;
    private readonly DeviceArray<int> _labels, _rowCorrect;
    private float[] _hostRowLoss = [];
    private int[] _hostRowCorrect = [];
    private bool _parametersLoaded;
    // Emptying is a flag rather than a device memset: the first add after it overwrites the accumulator instead
    // (pass 2's Accumulate = 0), and a read of an empty accumulator clears the host span without a download.
    private bool _accumulatorEmpty = true;

    internal IlgpuGradientKernel(IlgpuBackend backend, ModelShape shape)
    {
        shape.Validate();
        _backend = backend;
        Shape = shape;
        _outputsPerRow = shape.Kind == ModelKind.Logistic ? 1 : shape.Classes;
        var accelerator = backend.Accelerator;
        lock (backend.DeviceLock)
        {
            accelerator.Bind();
            _features = new(accelerator);
            _labels = new(accelerator);
            _parameters = new(accelerator, shape.ParameterCount);
            _accumulator = new(accelerator, shape.ParameterCount);
            // Allocated on the first ComputeAndDiscardGradient: only throttled workers need it.
            _discarded = new(accelerator);
            _outputs = new(accelerator);
            _hidden = new(accelerator);
            _hiddenDelta = new(accelerator);
            _rowLoss = new(accelerator);
            _rowCorrect = new(accelerator);
        }
    }

    /// <inheritdoc />
    public ModelShape Shape { get; }

    /// <inheritdoc />
    public int Rows { get; private set; }

    /// <inheritdoc />
    public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        int rows = KernelArguments.CheckData(Shape, features, labels);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            _features.Upload(features);
            _labels.Upload(labels);
        }
        Rows = rows;
    }

    /// <inheritdoc />
    public void LoadParameters(ReadOnlySpan<float> parameters)
    {
        KernelArguments.CheckParameters(Shape, parameters);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            _parameters.Upload(parameters);
        }
        _parametersLoaded = true;
        _accumulatorEmpty = true;
    }

    /// <inheritdoc />
    public double AddGradient(int start, int count, float scale = 1f)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        if (count == 0) return 0;
        double loss = Gradient(start, count, _accumulator, scale, accumulate: !_accumulatorEmpty);
        _accumulatorEmpty = false;
        return loss;
    }

    /// <inheritdoc />
    public double ComputeAndDiscardGradient(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        return count == 0 ? 0 : Gradient(start, count, _discarded, scale: 1f, accumulate: false);
    }

    /// <inheritdoc />
    public void ReadGradient(Span<float> gradient)
    {
        KernelArguments.CheckGradient(Shape, gradient);
        if (_accumulatorEmpty)
        {
            gradient.Clear();
            return;
        }
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            _accumulator.View(Shape.ParameterCount).CopyToCPU(gradient);
        }
        _accumulatorEmpty = true;
    }

    /// <inheritdoc />
    public EvaluationResult Evaluate(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            Forward(start, count);
            return DownloadRowResults(count, withCorrect: true);
        }
    }

    /// <summary>
    /// Passes 1 and 2 over rows [start, start+count) (count &gt; 0): <c>target = accumulate ? target + scale·g : scale·g</c>;
    /// returns the loss sum. Takes the device lock.
    /// </summary>
    private double Gradient(int start, int count, DeviceArray<float> target, float scale, bool accumulate)
    {
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            Forward(start, count);
            var gradient = target.View(Shape.ParameterCount);
            var features = _features.View(Rows * Shape.Features);
            if (Shape.Kind == ModelKind.Mlp)
            {
                int layer2 = Shape.Hidden * Shape.Features + Shape.Hidden;
                var hidden = _hidden.View(count * Shape.Hidden);
                LayerGradient(count, Shape.Hidden, Shape.Features, start, 0, _hiddenDelta.View(count * Shape.Hidden), features, gradient, scale, accumulate);
                LayerGradient(count, Shape.Classes, Shape.Hidden, 0, layer2, _outputs.View(count * Shape.Classes), hidden, gradient, scale, accumulate);
            }
            else
            {
                LayerGradient(count, _outputsPerRow, Shape.Features, start, 0, _outputs.View(count * _outputsPerRow), features, gradient, scale, accumulate);
            }
            return DownloadRowResults(count, withCorrect: false).LossSum;
        }
    }

    /// <summary>Pass 1 over rows [start, start+count) at the loaded parameters into the per-row buffers. Caller holds the device lock.</summary>
    private void Forward(int start, int count)
    {
        if (count == 0) return;
        int hiddenPerRow = Shape.Kind == ModelKind.Mlp ? Shape.Hidden : 0;
        var split = _backend.Launch.Split(count);
        _backend.Kernels.Forward(Shape.Kind)(split.Threads, split,
            new RowBatch(start, Shape.Features, Shape.Classes, Shape.Hidden),
            _features.View(Rows * Shape.Features), _labels.View(Rows), _parameters.View(Shape.ParameterCount),
            _outputs.View(count * _outputsPerRow), _hidden.View(Math.Max(1, count * hiddenPerRow)), _hiddenDelta.View(Math.Max(1, count * hiddenPerRow)),
            _rowLoss.View(count), _rowCorrect.View(count));
    }

    /// <summary>Pass 2 for one dense layer (see <see cref="DenseGradientArgs"/>). Caller holds the device lock.</summary>
    private void LayerGradient(int rows, int outputs, int inputs, int inputRowOffset, int gradientOffset,
        ArrayView<float> delta, ArrayView<float> input, ArrayView<float> gradient, float scale, bool accumulate)
    {
        var split = _backend.Launch.Split(outputs * inputs + outputs);
        _backend.Kernels.DenseGradient(split.Threads, split,
            new DenseGradientArgs(rows, outputs, inputs, inputRowOffset, gradientOffset, scale, accumulate ? 1 : 0),
            delta, input, gradient);
    }

    /// <summary>
    /// Sums the per-row losses (in double) and, <paramref name="withCorrect"/>, the correct flags of the last forward
    /// pass (a gradient call needs only the losses: one download instead of two). Caller holds the device lock.
    /// </summary>
    private EvaluationResult DownloadRowResults(int count, bool withCorrect)
    {
        if (count == 0) return new EvaluationResult(0, 0, 0);
        if (_hostRowLoss.Length < count)
        {
            _hostRowLoss = new float[count];
            _hostRowCorrect = new int[count];
        }
        _rowLoss.View(count).CopyToCPU(_hostRowLoss.AsSpan(0, count));
        if (withCorrect) _rowCorrect.View(count).CopyToCPU(_hostRowCorrect.AsSpan(0, count));
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            loss += _hostRowLoss[i];
            if (withCorrect) correct += _hostRowCorrect[i];
        }
        return new EvaluationResult(loss, correct, count);
    }

    /// <summary>Frees this kernel's device buffers; call it before disposing the backend.</summary>
    public void Dispose()
    {
        lock (_backend.DeviceLock)
        {
            foreach (var buffer in new IDisposable[] { _features, _labels, _parameters, _accumulator, _discarded, _outputs, _hidden, _hiddenDelta, _rowLoss, _rowCorrect })
                buffer.Dispose();
        }
    }
}
