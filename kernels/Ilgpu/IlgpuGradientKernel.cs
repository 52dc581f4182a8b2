using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IGradientKernel"/> on an ILGPU accelerator. <see cref="SetData"/> uploads the data once; the loaded
/// parameters and the gradient accumulator live in device buffers. Each gradient call runs the layers as matrix
/// products over the whole batch (<see cref="IMatrixProduct"/>: cuBLAS SGEMM on CUDA, an ILGPU kernel elsewhere) with
/// the element-wise and row-wise <see cref="GradientDeviceKernels"/> between them; the weight and bias gradients are
/// products too (<c>scale·deltaᵀ·input</c>, <c>scale·deltaᵀ·1</c>), added into the accumulator on the device, and
/// only the per-row losses come back (summed on the host in double). Deterministic.
/// Per-row device buffers grow to the largest batch seen. Blocking; not thread-safe (one object per worker thread;
/// device work is serialized across objects by the backend).
/// </summary>
/// <remarks>
/// Parameter-sized transfers per step: one upload (<see cref="LoadParameters"/>) and one download per
/// <see cref="ReadGradient"/>, whatever the number of ranges and partitions added: a coded step over s+1 partitions
/// moves 2 full vectors, where the earlier per-call API moved 3(s+1)−1 (with one row range per partition: a parameter
/// upload and a gradient download per call, and a gradient upload per accumulating call). Each gradient call also
/// downloads one float per row (the losses), and <see cref="Evaluate"/> one float and one int per row.
/// On a GPU the two parameter-sized copies go through one page-locked host buffer: the driver's DMA needs page-locked
/// memory, and from pageable (ordinary managed) memory it stages through its own small buffers chunk by chunk; the
/// gain against that is measured by <c>gpups bench gpu</c> ("+ transfers", staged and pageable).
/// </remarks>
public sealed class IlgpuGradientKernel : IGradientKernel
{
    private readonly IlgpuBackend _backend;
    private readonly int _outputsPerRow;  // residual width: 1 for logistic, Classes otherwise
    private readonly DeviceArray<float> _features, _parameters, _accumulator, _discarded, _outputs, _hidden, _hiddenDelta, _rowLoss, _ones;
    private readonly DeviceArray<int> _labels, _rowCorrect;
    // Blocked gradient (MLP): the block rows' hidden activations, hidden deltas and output residuals, row-major and
    // contiguous over the segments added; the block's gradient scratch; each segment's rows; each data row's max |x|.
    private readonly DeviceArray<float> _blockHidden, _blockDelta, _blockOutputs, _blockGradient, _rowBound;
    private float[] _hostRowBound = [];
    private readonly List<(int Start, int Count)> _blockSegments = [];
    private int _blockRowCount;
    private float[] _hostRowLoss = [];
    private int[] _hostRowCorrect = [];
    private readonly PageLockedArray1D<float>? _staging;  // null on the CPU accelerator, where it would only add a copy
    private bool _parametersLoaded;
    private int _onesFilled;
    // Rows per pass through the per-row buffers (hidden activations and deltas, outputs): a batch of any size keeps
    // them at most maxChunkElements floats each (256 MiB by default) and every device index within int.
    private readonly int _chunkRows;  // a grown DeviceArray loses its contents: View(n) for n <= _onesFilled keeps the ones
    // Emptying is a flag rather than a device memset: the first add after it overwrites the accumulator instead
    // (pass 2's Accumulate = 0), and a read of an empty accumulator clears the host span without a download.
    private bool _accumulatorEmpty = true;

    /// <param name="backend">The device.</param>
    /// <param name="shape">The model.</param>
    /// <param name="stageTransfers">Copy parameters and gradients through a page-locked host buffer (the default on GPUs).</param>
    /// <param name="maxChunkElements">Largest per-row buffer, in floats: batches with more rows × width run in chunks.</param>
    internal IlgpuGradientKernel(IlgpuBackend backend, ModelShape shape, bool? stageTransfers = null, int maxChunkElements = 1 << 26)
    {
        shape.Validate();
        _backend = backend;
        Shape = shape;
        _outputsPerRow = shape.Kind == ModelKind.Logistic ? 1 : shape.Classes;
        _chunkRows = Math.Max(1, maxChunkElements / Math.Max(shape.Hidden, _outputsPerRow));
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
            _ones = new(accelerator);
            _blockHidden = new(accelerator);
            _blockDelta = new(accelerator);
            _blockOutputs = new(accelerator);
            _blockGradient = new(accelerator);
            _rowBound = new(accelerator);
            if (stageTransfers ?? accelerator.AcceleratorType != AcceleratorType.CPU)
                _staging = accelerator.AllocatePageLocked1D<float>(shape.ParameterCount);
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
            if (_staging is null)
            {
                _parameters.Upload(parameters);
            }
            else
            {
                // Synchronized, so the buffer is free again when this returns; the kernels that follow wait for the copy anyway.
                parameters.CopyTo(_staging.Span);
                _parameters.View(Shape.ParameterCount).CopyFromPageLockedAsync(_backend.Accelerator.DefaultStream, _staging);
                _backend.Accelerator.DefaultStream.Synchronize();
            }
        }
        _parametersLoaded = true;
        _accumulatorEmpty = true;
        _blockSegments.Clear();
        _blockRowCount = 0;
    }

    /// <inheritdoc />
    public double AddGradient(int start, int count, float scale = 1f)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        if (count == 0) return 0;
        double loss = ChunkedGradient(start, count, _accumulator, scale, accumulate: !_accumulatorEmpty);
        _accumulatorEmpty = false;
        return loss;
    }

    /// <inheritdoc />
    public double ComputeAndDiscardGradient(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        return count == 0 ? 0 : ChunkedGradient(start, count, _discarded, scale: 1f, accumulate: false);
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
            var accumulator = _accumulator.View(Shape.ParameterCount);
            if (_staging is null)
            {
                accumulator.CopyToCPU(gradient);
            }
            else
            {
                accumulator.CopyToPageLockedAsync(_backend.Accelerator.DefaultStream, _staging);
                _backend.Accelerator.DefaultStream.Synchronize();
                _staging.Span.CopyTo(gradient);
            }
        }
        _accumulatorEmpty = true;
    }

    /// <inheritdoc />
    public EvaluationResult Evaluate(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        double loss = 0;
        int correct = 0;
        for (int done = 0; done < count; done += _chunkRows)
        {
            int rows = Math.Min(_chunkRows, count - done);
            lock (_backend.DeviceLock)
            {
                _backend.Accelerator.Bind();
                Forward(start + done, rows);
                var chunk = DownloadRowResults(rows, withCorrect: true);
                loss += chunk.LossSum;
                correct += chunk.Correct;
            }
        }
        return new EvaluationResult(loss, correct, count);
    }

    /// <inheritdoc />
    public bool ComputesBlocks => Shape.Kind == ModelKind.Mlp;

    /// <inheritdoc />
    /// <remarks>Per chunk of rows: the forward pass and the hidden deltas as <see cref="Gradient"/> runs them, copied into
    /// the block buffers, and each row's share of the magnitude bound computed on the device
    /// (<see cref="GradientDeviceKernels.BlockRowBounds"/>): one float per row comes back, as the losses do.</remarks>
    public BlockRows AddBlockRows(int start, int count)
    {
        GradientBlocks.CheckSupported(Shape);
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        var added = new BlockRows(0, 0);
        for (int done = 0; done < count; done += _chunkRows)
        {
            int rows = Math.Min(_chunkRows, count - done);
            lock (_backend.DeviceLock)
            {
                _backend.Accelerator.Bind();
                added += AddBlockChunk(start + done, rows);
            }
            _blockSegments.Add((start + done, rows));
            _blockRowCount += rows;
        }
        return added;
    }

    /// <summary>One chunk of <see cref="AddBlockRows"/>. Caller holds the device lock.</summary>
    private BlockRows AddBlockChunk(int start, int count)
    {
        int h = Shape.Hidden, c = Shape.Classes, total = _blockRowCount + count;
        Forward(start, count);
        var hidden = _hidden.View(count * h);
        var hiddenDelta = _hiddenDelta.View(count * h);
        var outputs = _outputs.View(count * c);
        _backend.MatrixProduct.Multiply(MatrixProductShape.Plain(count, h, c), outputs, _parameters.View(Shape.ParameterCount).SubView(h * Shape.Features + h, c * h), hiddenDelta);
        var split = _backend.Launch.Split(count * h);
        _backend.Kernels.ReluMask(split.Threads, split, hiddenDelta, hidden);
        hidden.CopyTo(_blockHidden.ViewKeeping(total * h, _blockRowCount * h).SubView(_blockRowCount * h, count * h));
        hiddenDelta.CopyTo(_blockDelta.ViewKeeping(total * h, _blockRowCount * h).SubView(_blockRowCount * h, count * h));
        outputs.CopyTo(_blockOutputs.ViewKeeping(total * c, _blockRowCount * c).SubView(_blockRowCount * c, count * c));
        var rows = _backend.Launch.Split(count);
        var rowBounds = _rowBound.View(count);
        _backend.Kernels.BlockRowBounds(rows.Threads, rows, Shape, RowsOf(start, count), hidden, hiddenDelta, outputs, rowBounds);
        if (_hostRowBound.Length < count) _hostRowBound = new float[count];
        rowBounds.CopyToCPU(_hostRowBound.AsSpan(0, count));
        double bound = 0;
        for (int r = 0; r < count; r++) bound += _hostRowBound[r];
        return new BlockRows(DownloadRowResults(count, withCorrect: false).LossSum, bound);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The W1 rows the keys touch as one product per segment, <c>scale·d[:, units]ᵀ·x</c> (the deltas' column block read
    /// with their row stride), the later segments added; the tail as <see cref="Gradient"/> computes it, over every block
    /// row at once; then the keys downloaded.
    /// </remarks>
    public void ReadGradientBlock(int keyStart, Span<float> destination, float scale)
    {
        var block = GradientBlocks.Check(Shape, keyStart, destination.Length, _blockRowCount > 0);
        int f = Shape.Features, h = Shape.Hidden, c = Shape.Classes, units = block.EndUnit - block.FirstUnit, total = _blockRowCount;
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            var gradient = _blockGradient.View(Shape.ParameterCount);
            var deltas = _blockDelta.View(total * h);
            int offset = 0;
            foreach (var (start, count) in _blockSegments)
            {
                if (units > 0)
                {
                    var shape = new MatrixProductShape(units, f, count, TransposeA: 1, TransposeB: 0, Lda: h, Ldb: f, Ldc: f, Alpha: scale, Beta: offset > 0 ? 1 : 0);
                    _backend.MatrixProduct.Multiply(shape, deltas.SubView(offset * h + block.FirstUnit, (count - 1) * h + units), RowsOf(start, count),
                        gradient.SubView(block.FirstUnit * f, units * f));
                }
                offset += count;
            }
            if (block.TouchesTail)
            {
                _backend.MatrixProduct.Multiply(MatrixProductShape.TransposedTimes(h, 1, total, scale, 0), deltas, Ones(total), gradient.SubView(block.TailStart, h));
                LayerGradient(total, _blockOutputs.View(total * c), c, _blockHidden.View(total * h), h, gradient.SubView(block.TailStart + h, c * h + c), scale, accumulate: false);
            }
            if (!destination.IsEmpty) gradient.SubView(keyStart, destination.Length).CopyToCPU(destination);
        }
    }

    /// <summary>
    /// <see cref="Gradient(int, int, DeviceArray{float}, float, bool)"/> in chunks of at most <see cref="_chunkRows"/>
    /// rows, the later ones added (beta = 1) to what the earlier ones wrote.
    /// </summary>
    private double ChunkedGradient(int start, int count, DeviceArray<float> target, float scale, bool accumulate)
    {
        double loss = 0;
        for (int done = 0; done < count; done += _chunkRows)
            loss += Gradient(start + done, Math.Min(_chunkRows, count - done), target, scale, accumulate || done > 0);
        return loss;
    }

    /// <summary>
    /// The forward pass and the gradient over rows [start, start+count) (count &gt; 0):
    /// <c>target = accumulate ? target + scale·g : scale·g</c>; returns the loss sum. Takes the device lock.
    /// </summary>
    private double Gradient(int start, int count, DeviceArray<float> target, float scale, bool accumulate)
    {
        lock (_backend.DeviceLock)
        {
            _backend.Accelerator.Bind();
            Forward(start, count);
            var gradient = target.View(Shape.ParameterCount);
            var inputs = RowsOf(start, count);
            var outputs = _outputs.View(count * _outputsPerRow);
            if (Shape.Kind == ModelKind.Mlp)
            {
                int f = Shape.Features, h = Shape.Hidden, c = Shape.Classes, layer2 = h * f + h;
                var hidden = _hidden.View(count * h);
                var hiddenDelta = _hiddenDelta.View(count * h);
                // hiddenDelta = (outputs · W2) ⊙ [hidden > 0]
                _backend.MatrixProduct.Multiply(MatrixProductShape.Plain(count, h, c), outputs, _parameters.View(Shape.ParameterCount).SubView(layer2, c * h), hiddenDelta);
                var split = _backend.Launch.Split(count * h);
                _backend.Kernels.ReluMask(split.Threads, split, hiddenDelta, hidden);
                LayerGradient(count, hiddenDelta, h, inputs, f, gradient.SubView(0, layer2), scale, accumulate);
                LayerGradient(count, outputs, c, hidden, h, gradient.SubView(layer2, c * h + c), scale, accumulate);
            }
            else
            {
                LayerGradient(count, outputs, _outputsPerRow, inputs, Shape.Features, gradient, scale, accumulate);
            }
            return DownloadRowResults(count, withCorrect: false).LossSum;
        }
    }

    /// <summary>
    /// The forward pass over rows [start, start+count) at the loaded parameters: the hidden activations (MLP), the
    /// output residuals (p − y) and the per-row losses and correct flags. Caller holds the device lock.
    /// </summary>
    private void Forward(int start, int count)
    {
        if (count == 0) return;
        var parameters = _parameters.View(Shape.ParameterCount);
        var products = _backend.MatrixProduct;
        var outputs = _outputs.View(count * _outputsPerRow);
        var layerInputs = RowsOf(start, count);
        int inputs = Shape.Features, layerOffset = 0;
        if (Shape.Kind == ModelKind.Mlp)
        {
            int h = Shape.Hidden;
            var hidden = _hidden.View(count * h);
            products.Multiply(MatrixProductShape.TimesTransposed(count, h, inputs), layerInputs, parameters.SubView(0, h * inputs), hidden);
            var split = _backend.Launch.Split(count * h);
            _backend.Kernels.BiasRelu(split.Threads, split, h, hidden, parameters.SubView(h * inputs, h));
            layerInputs = hidden;
            layerOffset = h * inputs + h;
            inputs = h;
        }
        int o = _outputsPerRow;
        products.Multiply(MatrixProductShape.TimesTransposed(count, o, inputs), layerInputs, parameters.SubView(layerOffset, o * inputs), outputs);
        var rows = _backend.Launch.Split(count);
        _backend.Kernels.Rows(Shape.Kind)(rows.Threads, rows, new RowBatch(start, o), _labels.View(Rows), parameters.SubView(layerOffset + o * inputs, o),
            outputs, _rowLoss.View(count), _rowCorrect.View(count));
    }

    /// <summary>Rows [start, start+count) of the loaded features, row-major.</summary>
    private ArrayView<float> RowsOf(int start, int count) =>
        _features.View(Rows * Shape.Features).SubView((long)start * Shape.Features, (long)count * Shape.Features);

    /// <summary>
    /// One dense layer's gradient into <paramref name="gradient"/> (its weights [outputs × inputs], then its biases):
    /// <c>scale·deltaᵀ·input</c> and <c>scale·deltaᵀ·1</c> (the column sums), added when <paramref name="accumulate"/>.
    /// Caller holds the device lock.
    /// </summary>
    private void LayerGradient(int rows, ArrayView<float> delta, int outputs, ArrayView<float> input, int inputs,
        ArrayView<float> gradient, float scale, bool accumulate)
    {
        float beta = accumulate ? 1 : 0;
        var products = _backend.MatrixProduct;
        products.Multiply(MatrixProductShape.TransposedTimes(outputs, inputs, rows, scale, beta), delta, input, gradient.SubView(0, outputs * inputs));
        products.Multiply(MatrixProductShape.TransposedTimes(outputs, 1, rows, scale, beta), delta, Ones(rows), gradient.SubView(outputs * inputs, outputs));
    }

    /// <summary>A device vector of <paramref name="count"/> ones, filled only when it grows. Caller holds the device lock.</summary>
    private ArrayView<float> Ones(int count)
    {
        var ones = _ones.View(count);
        if (count > _onesFilled)
        {
            var split = _backend.Launch.Split(count);
            _backend.Kernels.Fill(split.Threads, split, 1f, ones);
            _onesFilled = count;
        }
        return ones;
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
            _backend.Accelerator.Bind();
            foreach (var buffer in new IDisposable[] { _features, _labels, _parameters, _accumulator, _discarded, _outputs, _hidden, _hiddenDelta, _rowLoss, _rowCorrect, _ones, _blockHidden, _blockDelta, _blockOutputs, _blockGradient, _rowBound })
                buffer.Dispose();
            _staging?.Dispose();
        }
    }
}
