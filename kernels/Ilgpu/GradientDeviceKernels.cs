using ILGPU;

namespace GpuPs.Kernels;

/// <summary>Which rows a forward pass covers and the model's dimensions. Passed by value to kernels.</summary>
internal readonly record struct RowBatch(int Start, int Features, int Classes, int Hidden);

/// <summary>
/// One dense layer's gradient over a batch: <c>G[o, k] = Σ_i delta[i, o] · input[InputRowOffset + i, k]</c> for
/// W[Outputs x Inputs], then <c>G[o] = Σ_i delta[i, o]</c> for the bias, written at
/// <c>gradient[GradientOffset ..]</c> as <c>Accumulate != 0 ? gradient + Scale·G : Scale·G</c>
/// (an int flag: ILGPU rejects kernel-argument structs with a bool field, bool not being blittable).
/// </summary>
internal readonly record struct DenseGradientArgs(int Rows, int Outputs, int Inputs, int InputRowOffset, int GradientOffset, float Scale, int Accumulate);

/// <summary>
/// ILGPU kernels for loss and gradient, deterministic (no atomics): pass 1 runs one forward/backward step per row
/// (residuals p − y, per-row loss and correctness, MLP activations and hidden deltas) into per-row buffers indexed
/// by <c>i = row - start</c>; pass 2 (<see cref="DenseGradient"/>) sums over the rows once per parameter, in row order.
/// All forward kernels share one signature so that they share one loader; logistic and softmax ignore the hidden buffers.
/// </summary>
internal static class GradientDeviceKernels
{
    /// <summary>Logistic regression: outputs[i] = σ(w·x + b) − y.</summary>
    public static void LogisticForward(Index1D thread, WorkSplit rows, RowBatch batch, ArrayView<float> features, ArrayView<int> labels,
        ArrayView<float> parameters, ArrayView<float> outputs, ArrayView<float> hidden, ArrayView<float> hiddenDelta,
        ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        int f = batch.Features;
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            int row = batch.Start + i;
            int label = labels[row];
            float z = parameters[f] + DeviceLossMath.Dot(parameters, 0, features, row * f, f);
            outputs[i] = DeviceLossMath.Sigmoid(z) - label;
            rowLoss[i] = DeviceLossMath.BinaryCrossEntropy(z, label);
            rowCorrect[i] = (z > 0 ? 1 : 0) == label ? 1 : 0;
        }
    }

    /// <summary>Softmax regression: outputs[i, c] = softmax(W x + b)[c] − [c = y].</summary>
    public static void SoftmaxForward(Index1D thread, WorkSplit rows, RowBatch batch, ArrayView<float> features, ArrayView<int> labels,
        ArrayView<float> parameters, ArrayView<float> outputs, ArrayView<float> hidden, ArrayView<float> hiddenDelta,
        ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        int f = batch.Features, c = batch.Classes;
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            int row = batch.Start + i;
            LayerForward(parameters, 0, features, row * f, f, outputs, i * c, c);
            Classify(outputs, i, c, labels[row], rowLoss, rowCorrect);
        }
    }

    /// <summary>
    /// MLP: hidden[i, j] = ReLU(W1 x + b1), outputs[i, c] = softmax(W2 h + b2)[c] − [c = y],
    /// hiddenDelta[i, j] = [h_j &gt; 0] · Σ_c outputs[i, c] · W2[c, j].
    /// </summary>
    public static void MlpForward(Index1D thread, WorkSplit rows, RowBatch batch, ArrayView<float> features, ArrayView<int> labels,
        ArrayView<float> parameters, ArrayView<float> outputs, ArrayView<float> hidden, ArrayView<float> hiddenDelta,
        ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        int f = batch.Features, c = batch.Classes, h = batch.Hidden;
        int layer2 = h * f + h;
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            int row = batch.Start + i;
            LayerForward(parameters, 0, features, row * f, f, hidden, i * h, h);
            for (int j = 0; j < h; j++)
            {
                if (hidden[i * h + j] < 0) hidden[i * h + j] = 0;
            }
            LayerForward(parameters, layer2, hidden, i * h, h, outputs, i * c, c);
            Classify(outputs, i, c, labels[row], rowLoss, rowCorrect);
            for (int j = 0; j < h; j++)
            {
                float delta = 0;
                if (hidden[i * h + j] > 0)
                {
                    for (int k = 0; k < c; k++) delta += outputs[i * c + k] * parameters[layer2 + k * h + j];
                }
                hiddenDelta[i * h + j] = delta;
            }
        }
    }

    /// <summary>Pass 2: one dense layer's gradient, one parameter per loop iteration (see <see cref="DenseGradientArgs"/>).</summary>
    public static void DenseGradient(Index1D thread, WorkSplit parameters, DenseGradientArgs args, ArrayView<float> delta,
        ArrayView<float> input, ArrayView<float> gradient)
    {
        int weights = args.Outputs * args.Inputs;
        for (int q = parameters.First(thread), end = parameters.End(thread), stride = parameters.Stride; q < end; q += stride)
        {
            float sum = 0;
            if (q < weights)
            {
                int o = q / args.Inputs;
                int k = q - o * args.Inputs;
                for (int i = 0; i < args.Rows; i++) sum += delta[i * args.Outputs + o] * input[(args.InputRowOffset + i) * args.Inputs + k];
            }
            else
            {
                int o = q - weights;
                for (int i = 0; i < args.Rows; i++) sum += delta[i * args.Outputs + o];
            }
            int index = args.GradientOffset + q;
            gradient[index] = args.Accumulate != 0 ? gradient[index] + args.Scale * sum : args.Scale * sum;
        }
    }

    /// <summary>
    /// <c>output[outputOffset + o] = b[o] + W[o, :] · input[inputOffset ..]</c> for a layer W[outputs x inputs], b[outputs]
    /// stored at <c>parameters[layerOffset ..]</c>.
    /// </summary>
    private static void LayerForward(ArrayView<float> parameters, int layerOffset, ArrayView<float> input, int inputOffset, int inputs,
        ArrayView<float> output, int outputOffset, int outputs)
    {
        int bias = layerOffset + outputs * inputs;
        for (int o = 0; o < outputs; o++)
            output[outputOffset + o] = parameters[bias + o] + DeviceLossMath.Dot(parameters, layerOffset + o * inputs, input, inputOffset, inputs);
    }

    /// <summary>Softmax cross-entropy of row i's logits: residuals in place, loss and correctness into the per-row buffers.</summary>
    private static void Classify(ArrayView<float> outputs, int i, int classes, int label, ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        int predicted = DeviceLossMath.ArgMax(outputs, i * classes, classes);
        rowLoss[i] = DeviceLossMath.SoftmaxResidual(outputs, i * classes, classes, label);
        rowCorrect[i] = predicted == label ? 1 : 0;
    }
}
