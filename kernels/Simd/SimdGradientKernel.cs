using System.Numerics.Tensors;

namespace GpuPs.Kernels;

/// <summary>
/// <see cref="IGradientKernel"/> on the host CPU, one row at a time with <see cref="TensorPrimitives"/> dot products
/// and multiply-adds (SIMD) over the feature and hidden dimensions. Single-threaded: parallelism comes from one
/// kernel per worker thread. Allocation-free after <see cref="SetData"/>: all scratch is sized by the shape.
/// It is also the reference the ILGPU backend is tested against.
/// </summary>
public sealed class SimdGradientKernel : IGradientKernel
{
    private readonly float[] _gradientSum;   // g of the current call, before scale/accumulate
    private readonly float[] _outputs;       // per-row logits, turned into residuals p - y (Classes; 1 for logistic)
    private readonly float[] _hidden;        // MLP: per-row ReLU activations
    private readonly float[] _hiddenDelta;   // MLP: per-row dLoss/dActivation
    private float[] _features = [];
    private int[] _labels = [];

    public SimdGradientKernel(ModelShape shape)
    {
        shape.Validate();
        Shape = shape;
        _gradientSum = new float[shape.ParameterCount];
        _outputs = new float[shape.Kind == ModelKind.Logistic ? 1 : shape.Classes];
        _hidden = new float[shape.Hidden];
        _hiddenDelta = new float[shape.Hidden];
    }

    public ModelShape Shape { get; }

    public int Rows => _labels.Length;

    /// <summary>Copies the data into arrays this kernel owns.</summary>
    public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        KernelArguments.CheckData(Shape, features, labels);
        _features = features.ToArray();
        _labels = labels.ToArray();
    }

    public double LossAndGradient(ReadOnlySpan<float> parameters, int start, int count, Span<float> gradient, float scale = 1f, bool accumulate = false)
    {
        KernelArguments.CheckCall(Shape, Rows, parameters, start, count);
        KernelArguments.CheckGradient(Shape, gradient);
        Array.Clear(_gradientSum);
        double loss = 0;
        for (int row = start; row < start + count; row++) loss += Row(parameters, row, backpropagate: true, out _);
        if (accumulate) TensorPrimitives.MultiplyAdd(_gradientSum, scale, gradient, gradient);
        else TensorPrimitives.Multiply(_gradientSum, scale, gradient);
        return loss;
    }

    public EvaluationResult Evaluate(ReadOnlySpan<float> parameters, int start, int count)
    {
        KernelArguments.CheckCall(Shape, Rows, parameters, start, count);
        double loss = 0;
        int correct = 0;
        for (int row = start; row < start + count; row++)
        {
            loss += Row(parameters, row, backpropagate: false, out int predicted);
            if (predicted == _labels[row]) correct++;
        }
        return new EvaluationResult(loss, correct, count);
    }

    public void Dispose() { }

    /// <summary>Loss of one row; with <paramref name="backpropagate"/> also adds its gradient to <see cref="_gradientSum"/>.</summary>
    private double Row(ReadOnlySpan<float> parameters, int row, bool backpropagate, out int predicted) => Shape.Kind switch
    {
        ModelKind.Logistic => LogisticRow(parameters, row, backpropagate, out predicted),
        ModelKind.Softmax => SoftmaxRow(parameters, row, backpropagate, out predicted),
        _ => MlpRow(parameters, row, backpropagate, out predicted),
    };

    private double LogisticRow(ReadOnlySpan<float> parameters, int row, bool backpropagate, out int predicted)
    {
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

    private double SoftmaxRow(ReadOnlySpan<float> parameters, int row, bool backpropagate, out int predicted)
    {
        int features = Shape.Features;
        ReadOnlySpan<float> x = _features.AsSpan(row * features, features);
        double loss = DenseForwardLoss(parameters, x, features, _labels[row], out predicted);
        if (backpropagate) DenseBackward(_gradientSum, x, _outputs);
        return loss;
    }

    private double MlpRow(ReadOnlySpan<float> parameters, int row, bool backpropagate, out int predicted)
    {
        int features = Shape.Features, hidden = Shape.Hidden;
        ReadOnlySpan<float> x = _features.AsSpan(row * features, features);
        int layer2Start = hidden * features + hidden;

        // Layer 1: h = ReLU(W1 x + b1).
        DenseForward(parameters[..layer2Start], x, _hidden);
        TensorPrimitives.Max(_hidden, 0f, _hidden);
        double loss = DenseForwardLoss(parameters[layer2Start..], _hidden, hidden, _labels[row], out predicted);
        if (!backpropagate) return loss;

        // Layer 2 gradient, then dL/dh = W2ᵀ r, masked by the ReLU, then layer 1 gradient.
        DenseBackward(_gradientSum.AsSpan(layer2Start), _hidden, _outputs);
        ReadOnlySpan<float> w2 = parameters[layer2Start..];
        Array.Clear(_hiddenDelta);
        for (int c = 0; c < _outputs.Length; c++)
            TensorPrimitives.MultiplyAdd(w2.Slice(c * hidden, hidden), _outputs[c], _hiddenDelta, _hiddenDelta);
        for (int j = 0; j < hidden; j++)
        {
            if (_hidden[j] <= 0) _hiddenDelta[j] = 0;
        }
        DenseBackward(_gradientSum.AsSpan(0, layer2Start), x, _hiddenDelta);
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
