using System.Numerics.Tensors;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IGradientKernel"/> on the host CPU, one row at a time with <see cref="TensorPrimitives"/> dot products
/// and multiply-adds (SIMD) over the feature and hidden dimensions. Single-threaded: parallelism comes from one
/// kernel per worker thread. Allocation-free after <see cref="SetData"/>: all scratch is sized by the shape. Per step
/// it copies the parameter vector in once (<see cref="LoadParameters"/>) and the accumulator out once per
/// <see cref="ReadGradient"/>. It is also the reference the ILGPU backend is tested against.
/// </summary>
public sealed class SimdGradientKernel : IGradientKernel
{
    private readonly float[] _parameters;    // the loaded step's parameters
    private readonly float[] _accumulator;   // Σ scale · g since the last read or load; stale while _accumulatorEmpty
    private readonly float[] _gradientSum;   // g of the current call, before scaling
    private readonly float[] _outputs;       // per-row logits, turned into residuals p - y (Classes; 1 for logistic)
    private readonly float[] _hidden;        // MLP: per-row ReLU activations
    private readonly float[] _hiddenDelta;   // MLP: per-row dLoss/dActivation
    private float[] _features = [];
    private int[] _labels = [];
    // Blocked gradient (MLP): the block rows' indices, hidden activations, hidden deltas and output residuals, row-major,
    // grown to the largest batch seen.
    private int[] _blockRows = [];
    private float[] _blockHidden = [], _blockDelta = [], _blockResidual = [];
    private int _blockRowCount;
    private bool _parametersLoaded;
    // Emptying is a flag rather than a clear: the first add after it overwrites the accumulator instead.
    private bool _accumulatorEmpty = true;

    /// <summary>
    /// A kernel for <paramref name="shape"/> with its scratch allocated, no data and no parameters loaded.
    /// </summary>
    /// <exception cref="ArgumentException">The shape is impossible (see <see cref="ModelShape.Validate"/>).</exception>
    public SimdGradientKernel(ModelShape shape)
    {
        shape.Validate();
        Shape = shape;
        _parameters = new float[shape.ParameterCount];
        _accumulator = new float[shape.ParameterCount];
        _gradientSum = new float[shape.ParameterCount];
        _outputs = new float[shape.Kind == ModelKind.Logistic ? 1 : shape.Classes];
        _hidden = new float[shape.Hidden];
        _hiddenDelta = new float[shape.Hidden];
    }

    /// <inheritdoc />
    public ModelShape Shape { get; }

    /// <inheritdoc />
    public int Rows => _labels.Length;

    /// <summary>Copies the data into arrays this kernel owns.</summary>
    public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        KernelArguments.CheckData(Shape, features, labels);
        _features = features.ToArray();
        _labels = labels.ToArray();
    }

    /// <inheritdoc />
    public void LoadParameters(ReadOnlySpan<float> parameters)
    {
        KernelArguments.CheckParameters(Shape, parameters);
        parameters.CopyTo(_parameters);
        _parametersLoaded = true;
        _accumulatorEmpty = true;
        _blockRowCount = 0;
    }

    /// <inheritdoc />
    public double AddGradient(int start, int count, float scale = 1f)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        if (count == 0) return 0;
        double loss = GradientSum(start, count);
        if (_accumulatorEmpty) TensorPrimitives.Multiply(_gradientSum, scale, _accumulator);
        else TensorPrimitives.MultiplyAdd(_gradientSum, scale, _accumulator, _accumulator);
        _accumulatorEmpty = false;
        return loss;
    }

    /// <inheritdoc />
    public double ComputeAndDiscardGradient(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        return count == 0 ? 0 : GradientSum(start, count);
    }

    /// <inheritdoc />
    public void ReadGradient(Span<float> gradient)
    {
        KernelArguments.CheckGradient(Shape, gradient);
        if (_accumulatorEmpty) gradient.Clear();
        else _accumulator.CopyTo(gradient);
        _accumulatorEmpty = true;
    }

    /// <inheritdoc />
    public EvaluationResult Evaluate(int start, int count)
    {
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        double loss = 0;
        int correct = 0;
        for (int row = start; row < start + count; row++)
        {
            loss += Row(row, backpropagate: false, out int predicted);
            if (predicted == _labels[row]) correct++;
        }
        return new EvaluationResult(loss, correct, count);
    }

    /// <inheritdoc />
    public bool ComputesBlocks => Shape.Kind == ModelKind.Mlp;

    /// <inheritdoc />
    public BlockRows AddBlockRows(int start, int count)
    {
        GradientBlocks.CheckSupported(Shape);
        KernelArguments.CheckCall(Rows, _parametersLoaded, start, count);
        int hidden = Shape.Hidden, classes = Shape.Classes;
        GrowBlockRows(_blockRowCount + count);
        double loss = 0, bound = 0;
        for (int row = start; row < start + count; row++, _blockRowCount++)
        {
            loss += MlpRow(row, backpropagate: false, out _, keepDelta: true);
            int b = _blockRowCount;
            _blockRows[b] = row;
            _hidden.CopyTo(_blockHidden.AsSpan(b * hidden, hidden));
            _hiddenDelta.CopyTo(_blockDelta.AsSpan(b * hidden, hidden));
            _outputs.CopyTo(_blockResidual.AsSpan(b * classes, classes));
            bound += GradientBlocks.RowBound(TensorPrimitives.MaxMagnitude<float>(_hiddenDelta), TensorPrimitives.MaxMagnitude<float>(_features.AsSpan(row * Shape.Features, Shape.Features)),
                TensorPrimitives.MaxMagnitude<float>(_outputs), TensorPrimitives.MaxMagnitude<float>(_hidden));
        }
        return new BlockRows(loss, bound);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The block's keys are summed over the rows in the order <see cref="AddGradient"/> sums them and then scaled, as it
    /// scales: over one row range the values are bit for bit the same. Scratch: the W1 rows touched and the tail, in
    /// <see cref="_gradientSum"/>.
    /// </remarks>
    public void ReadGradientBlock(int keyStart, Span<float> destination, float scale)
    {
        var block = GradientBlocks.Check(Shape, keyStart, destination.Length, _blockRowCount > 0);
        int features = Shape.Features, hidden = Shape.Hidden, classes = Shape.Classes;
        Span<float> sum = _gradientSum;
        sum[(block.FirstUnit * features)..(block.EndUnit * features)].Clear();
        if (block.TouchesTail) sum[block.TailStart..].Clear();
        for (int b = 0; b < _blockRowCount; b++)
        {
            ReadOnlySpan<float> x = _features.AsSpan(_blockRows[b] * features, features);
            ReadOnlySpan<float> delta = _blockDelta.AsSpan(b * hidden, hidden);
            for (int j = block.FirstUnit; j < block.EndUnit; j++)
            {
                if (delta[j] == 0) continue;   // as DenseBackward: a ReLU-zeroed unit adds nothing
                Span<float> w = sum.Slice(j * features, features);
                TensorPrimitives.MultiplyAdd(x, delta[j], w, w);
            }
            if (!block.TouchesTail) continue;
            // The tail in AddGradient's order: W2 and b2 (DenseBackward of the output layer), then b1.
            DenseBackward(sum[(block.TailStart + hidden)..], _blockHidden.AsSpan(b * hidden, hidden), _blockResidual.AsSpan(b * classes, classes));
            Span<float> b1 = sum.Slice(block.TailStart, hidden);
            TensorPrimitives.Add(b1, delta, b1);
        }
        TensorPrimitives.Multiply(sum.Slice(keyStart, destination.Length), scale, destination);
    }

    /// <summary>Grows the block-row scratch to hold <paramref name="rows"/> rows, keeping the rows already added.</summary>
    private void GrowBlockRows(int rows)
    {
        if (rows <= _blockRows.Length) return;
        int capacity = Math.Max(rows, 2 * _blockRows.Length);
        Array.Resize(ref _blockRows, capacity);
        Array.Resize(ref _blockHidden, capacity * Shape.Hidden);
        Array.Resize(ref _blockDelta, capacity * Shape.Hidden);
        Array.Resize(ref _blockResidual, capacity * Shape.Classes);
    }

    /// <summary>Does nothing: the kernel holds only managed arrays.</summary>
    public void Dispose() { }

    /// <summary>Sets <see cref="_gradientSum"/> to the gradient sum over the rows and returns their loss sum.</summary>
    private double GradientSum(int start, int count)
    {
        Array.Clear(_gradientSum);
        double loss = 0;
        for (int row = start; row < start + count; row++) loss += Row(row, backpropagate: true, out _);
        return loss;
    }

    /// <summary>Loss of one row; with <paramref name="backpropagate"/> also adds its gradient to <see cref="_gradientSum"/>.</summary>
    private double Row(int row, bool backpropagate, out int predicted) => Shape.Kind switch
    {
        ModelKind.Logistic => LogisticRow(row, backpropagate, out predicted),
        ModelKind.Softmax => SoftmaxRow(row, backpropagate, out predicted),
        _ => MlpRow(row, backpropagate, out predicted),
    };

    private double LogisticRow(int row, bool backpropagate, out int predicted)
    {
        ReadOnlySpan<float> parameters = _parameters;
        int features = Shape.Features;
        ReadOnlySpan<float> x = _features.AsSpan(row * features, features);
        int label = _labels[row];
        float z = TensorPrimitives.Dot(parameters[..features], x) + parameters[features];
        predicted = z > 0 ? 1 : 0;
        if (backpropagate)
        {
            float residual = HostLossMath.Sigmoid(z) - label;
            Span<float> w = _gradientSum.AsSpan(0, features);
            TensorPrimitives.MultiplyAdd(x, residual, w, w);
            _gradientSum[features] += residual;
        }
        return HostLossMath.BinaryCrossEntropy(z, label);
    }

    private double SoftmaxRow(int row, bool backpropagate, out int predicted)
    {
        ReadOnlySpan<float> parameters = _parameters;
        int features = Shape.Features;
        ReadOnlySpan<float> x = _features.AsSpan(row * features, features);
        double loss = DenseForwardLoss(parameters, x, features, _labels[row], out predicted);
        if (backpropagate) DenseBackward(_gradientSum, x, _outputs);
        return loss;
    }

    /// <summary>
    /// Loss of one MLP row; with <paramref name="backpropagate"/> also adds its gradient to <see cref="_gradientSum"/>; with
    /// <paramref name="keepDelta"/> leaves its hidden deltas in <see cref="_hiddenDelta"/> (and its activations and
    /// residuals in <see cref="_hidden"/> and <see cref="_outputs"/>) without adding any gradient.
    /// </summary>
    private double MlpRow(int row, bool backpropagate, out int predicted, bool keepDelta = false)
    {
        ReadOnlySpan<float> parameters = _parameters;
        int features = Shape.Features, hidden = Shape.Hidden;
        ReadOnlySpan<float> x = _features.AsSpan(row * features, features);
        int layer2Start = hidden * features + hidden;

        // Layer 1: h = ReLU(W1 x + b1).
        DenseForward(parameters[..layer2Start], x, _hidden);
        TensorPrimitives.Max(_hidden, 0f, _hidden);
        double loss = DenseForwardLoss(parameters[layer2Start..], _hidden, hidden, _labels[row], out predicted);
        if (!backpropagate && !keepDelta) return loss;

        // Layer 2 gradient, then dL/dh = W2ᵀ r, masked by the ReLU, then layer 1 gradient.
        if (backpropagate) DenseBackward(_gradientSum.AsSpan(layer2Start), _hidden, _outputs);
        ReadOnlySpan<float> w2 = parameters[layer2Start..];
        Array.Clear(_hiddenDelta);
        for (int c = 0; c < _outputs.Length; c++)
            TensorPrimitives.MultiplyAdd(w2.Slice(c * hidden, hidden), _outputs[c], _hiddenDelta, _hiddenDelta);
        for (int j = 0; j < hidden; j++)
        {
            if (_hidden[j] <= 0) _hiddenDelta[j] = 0;
        }
        if (backpropagate) DenseBackward(_gradientSum.AsSpan(0, layer2Start), x, _hiddenDelta);
        return loss;
    }

    /// <summary>Softmax output layer: <see cref="_outputs"/> = W·input + b, then turned into residuals; returns the loss.</summary>
    private double DenseForwardLoss(ReadOnlySpan<float> layer, ReadOnlySpan<float> input, int inputs, int label, out int predicted)
    {
        DenseForward(layer[..(_outputs.Length * inputs + _outputs.Length)], input, _outputs);
        return HostLossMath.SoftmaxCrossEntropy(_outputs, label, out predicted);
    }

    /// <summary><c>output = W·input + b</c> for a layer laid out as W[outputs x inputs] then b[outputs].</summary>
    private static void DenseForward(ReadOnlySpan<float> layer, ReadOnlySpan<float> input, Span<float> output)
    {
        int inputs = input.Length;
        ReadOnlySpan<float> bias = layer.Slice(output.Length * inputs, output.Length);
        for (int o = 0; o < output.Length; o++) output[o] = TensorPrimitives.Dot(layer.Slice(o * inputs, inputs), input) + bias[o];
    }

    /// <summary>Adds the layer gradient <c>dW += delta ⊗ input, db += delta</c> (same layout as <see cref="DenseForward"/>).</summary>
    private static void DenseBackward(Span<float> layerGradient, ReadOnlySpan<float> input, ReadOnlySpan<float> delta)
    {
        int inputs = input.Length;
        for (int o = 0; o < delta.Length; o++)
        {
            // ReLU zeroes many hidden deltas; skipping them saves a full pass over the input.
            if (delta[o] == 0) continue;
            Span<float> w = layerGradient.Slice(o * inputs, inputs);
            TensorPrimitives.MultiplyAdd(input, delta[o], w, w);
        }
        Span<float> bias = layerGradient.Slice(delta.Length * inputs, delta.Length);
        TensorPrimitives.Add(bias, delta, bias);
    }
}
