using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IGradientKernel"/> on an ILGPU accelerator. <see cref="SetData"/> uploads the data once; each call
/// uploads the parameters (and, when accumulating, the gradient), runs <see cref="GradientDeviceKernels"/> pass 1
/// over the rows and pass 2 per parameter, downloads the gradient and the per-row losses and sums the losses on the
/// host in double. Deterministic. Per-row device buffers grow to the largest batch seen. Blocking; not thread-safe
/// (one object per worker thread; device work is serialized across objects by the backend).
/// </summary>
public sealed class IlgpuGradientKernel : IGradientKernel
{
    private readonly IlgpuBackend _backend;
    private readonly int _outputsPerRow;  // residual width: 1 for logistic, Classes otherwise
    private readonly DeviceArray<float> _features, _parameters, _gradient, _outputs, _hidden, _hiddenDelta, _rowLoss;
    private readonly DeviceArray<int> _labels, _rowCorrect;
    private float[] _hostRowLoss = [];
    private int[] _hostRowCorrect = [];

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
            _gradient = new(accelerator, shape.ParameterCount);
            _outputs = new(accelerator);
            _hidden = new(accelerator);
            _hiddenDelta = new(accelerator);
            _rowLoss = new(accelerator);
            _rowCorrect = new(accelerator);
        }
    }

    public ModelShape Shape { get; }

    public int Rows { get; private set; }

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

    public double LossAndGradient(ReadOnlySpan<float> parameters, int start, int count, Span<float> gradient, float scale = 1f, bool accumulate = false)
    {
        KernelArguments.CheckCall(Shape, Rows, parameters, start, count);
        KernelArguments.CheckGradient(Shape, gradient);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            Forward(parameters, start, count);
            var deviceGradient = _gradient.View(Shape.ParameterCount);
            if (accumulate) deviceGradient.CopyFromCPU(gradient);
            if (Shape.Kind == ModelKind.Mlp)
            {
                int layer2 = Shape.Hidden * Shape.Features + Shape.Hidden;
                LayerGradient(count, Shape.Hidden, Shape.Features, start, 0, _hiddenDelta.View(count * Shape.Hidden), _features.View(Rows * Shape.Features), scale, accumulate);
                LayerGradient(count, Shape.Classes, Shape.Hidden, 0, layer2, _outputs.View(count * Shape.Classes), _hidden.View(count * Shape.Hidden), scale, accumulate);
            }
            else
            {
                LayerGradient(count, _outputsPerRow, Shape.Features, start, 0, _outputs.View(count * _outputsPerRow), _features.View(Rows * Shape.Features), scale, accumulate);
            }
            deviceGradient.CopyToCPU(gradient);
            return DownloadRowResults(count).LossSum;
        }
    }

    public EvaluationResult Evaluate(ReadOnlySpan<float> parameters, int start, int count)
    {
        KernelArguments.CheckCall(Shape, Rows, parameters, start, count);
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            Forward(parameters, start, count);
            return DownloadRowResults(count);
        }
    }

    /// <summary>Pass 1 over rows [start, start+count) into the per-row buffers. Caller holds the device lock.</summary>
    private void Forward(ReadOnlySpan<float> parameters, int start, int count)
    {
        var deviceParameters = _parameters.Upload(parameters);
        if (count == 0) return;
        int hiddenPerRow = Shape.Kind == ModelKind.Mlp ? Shape.Hidden : 0;
        var split = _backend.Launch.Split(count);
        _backend.Kernels.Forward(Shape.Kind)(split.Threads, split,
            new RowBatch(start, Shape.Features, Shape.Classes, Shape.Hidden),
            _features.View(Rows * Shape.Features), _labels.View(Rows), deviceParameters,
            _outputs.View(count * _outputsPerRow), _hidden.View(Math.Max(1, count * hiddenPerRow)), _hiddenDelta.View(Math.Max(1, count * hiddenPerRow)),
            _rowLoss.View(count), _rowCorrect.View(count));
    }

    /// <summary>Pass 2 for one dense layer (see <see cref="DenseGradientArgs"/>). Caller holds the device lock.</summary>
    private void LayerGradient(int rows, int outputs, int inputs, int inputRowOffset, int gradientOffset,
        ArrayView<float> delta, ArrayView<float> input, float scale, bool accumulate)
    {
        var split = _backend.Launch.Split(outputs * inputs + outputs);
        _backend.Kernels.DenseGradient(split.Threads, split,
            new DenseGradientArgs(rows, outputs, inputs, inputRowOffset, gradientOffset, scale, accumulate ? 1 : 0),
            delta, input, _gradient.View(Shape.ParameterCount));
    }

    /// <summary>Sums the per-row losses (in double) and correct flags of the last forward pass. Caller holds the device lock.</summary>
    private EvaluationResult DownloadRowResults(int count)
    {
        if (count == 0) return new EvaluationResult(0, 0, 0);
        if (_hostRowLoss.Length < count)
        {
            _hostRowLoss = new float[count];
            _hostRowCorrect = new int[count];
        }
        _rowLoss.View(count).CopyToCPU(_hostRowLoss.AsSpan(0, count));
        _rowCorrect.View(count).CopyToCPU(_hostRowCorrect.AsSpan(0, count));
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            loss += _hostRowLoss[i];
            correct += _hostRowCorrect[i];
        }
        return new EvaluationResult(loss, correct, count);
    }

    public void Dispose()
    {
        lock (_backend.DeviceLock)
        {
            foreach (var buffer in new IDisposable[] { _features, _labels, _parameters, _gradient, _outputs, _hidden, _hiddenDelta, _rowLoss, _rowCorrect })
                buffer.Dispose();
        }
    }
}
