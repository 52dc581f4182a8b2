using ILGPU;

namespace GpuPs.Kernels;

/// <summary>Which rows a row-wise kernel covers (labels at <c>Start + i</c>) and the outputs per row. Passed by value to kernels.</summary>
internal readonly record struct RowBatch(int Start, int Classes);

/// <summary>
/// The element-wise and row-wise parts of loss and gradient, around the matrix products of
/// <see cref="IlgpuGradientKernel"/> (an <see cref="IMatrixProduct"/>: cuBLAS on CUDA, else an ILGPU kernel).
/// Deterministic (no atomics): every output element is written by one loop iteration. Row-wise kernels index their
/// per-row buffers by <c>i = row - start</c>. The two row kernels share one signature so that they share one loader.
/// </summary>
internal static class GradientDeviceKernels
{
    /// <summary>Softmax regression's and the MLP's output layer: <c>outputs[i, c] = softmax(z + b)[c] − [c = y]</c>, in place.</summary>
    public static void SoftmaxRows(Index1D thread, WorkSplit rows, RowBatch batch, ArrayView<int> labels, ArrayView<float> bias,
        ArrayView<float> outputs, ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        int c = batch.Classes;
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            for (int k = 0; k < c; k++) outputs[i * c + k] += bias[k];
            int label = labels[batch.Start + i];
            int predicted = DeviceLossMath.ArgMax(outputs, i * c, c);
            rowLoss[i] = DeviceLossMath.SoftmaxResidual(outputs, i * c, c, label);
            rowCorrect[i] = predicted == label ? 1 : 0;
        }
    }

    /// <summary>Logistic regression (one output per row): <c>outputs[i] = σ(z + b) − y</c>, in place.</summary>
    public static void LogisticRows(Index1D thread, WorkSplit rows, RowBatch batch, ArrayView<int> labels, ArrayView<float> bias,
        ArrayView<float> outputs, ArrayView<float> rowLoss, ArrayView<int> rowCorrect)
    {
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            int label = labels[batch.Start + i];
            float z = outputs[i] + bias[0];
            outputs[i] = DeviceLossMath.Sigmoid(z) - label;
            rowLoss[i] = DeviceLossMath.BinaryCrossEntropy(z, label);
            rowCorrect[i] = (z > 0 ? 1 : 0) == label ? 1 : 0;
        }
    }

    /// <summary>The MLP's hidden layer: <c>values[i, j] = ReLU(values[i, j] + bias[j])</c> over rows of <paramref name="width"/>.</summary>
    public static void BiasRelu(Index1D thread, WorkSplit elements, int width, ArrayView<float> values, ArrayView<float> bias)
    {
        for (int q = elements.First(thread), end = elements.End(thread), stride = elements.Stride; q < end; q += stride)
        {
            float v = values[q] + bias[q % width];
            values[q] = v > 0 ? v : 0;
        }
    }

    /// <summary>Backpropagation through the ReLU: <c>delta[q] = 0</c> where the activation <c>hidden[q]</c> is not positive.</summary>
    public static void ReluMask(Index1D thread, WorkSplit elements, ArrayView<float> delta, ArrayView<float> hidden)
    {
        for (int q = elements.First(thread), end = elements.End(thread), stride = elements.Stride; q < end; q += stride)
        {
            if (!(hidden[q] > 0)) delta[q] = 0;
        }
    }

    /// <summary>
    /// Each block row's share of <see cref="BlockRows.GradientBound"/> (<see cref="GradientBlocks.RowBound"/>):
    /// <c>bound[i] = max|d_i|·max(1, max|x_i|) + max|r_i|·max(1, max|h_i|)</c> over row i of the inputs, hidden
    /// activations, hidden deltas and output residuals, so that only one float per row leaves the device. A NaN counts as
    /// +∞ (a comparison would drop it), so a row with one gives an infinite bound.
    /// </summary>
    public static void BlockRowBounds(Index1D thread, WorkSplit rows, ModelShape shape, ArrayView<float> inputs, ArrayView<float> hidden,
        ArrayView<float> delta, ArrayView<float> outputs, ArrayView<float> bound)
    {
        int f = shape.Features, h = shape.Hidden, c = shape.Classes;
        for (int i = rows.First(thread), end = rows.End(thread), stride = rows.Stride; i < end; i += stride)
        {
            float maxX = MaxMagnitude(inputs, i * f, f), maxH = MaxMagnitude(hidden, i * h, h);
            float maxD = MaxMagnitude(delta, i * h, h), maxR = MaxMagnitude(outputs, i * c, c);
            bound[i] = maxD * (maxX > 1 ? maxX : 1) + maxR * (maxH > 1 ? maxH : 1);
        }
    }

    /// <summary>The largest |v| of <paramref name="count"/> values from <paramref name="start"/>; +∞ where one is NaN.</summary>
    private static float MaxMagnitude(ArrayView<float> values, int start, int count)
    {
        float most = 0;
        for (int k = start; k < start + count; k++)
        {
            float v = values[k];
            float magnitude = float.IsNaN(v) ? float.PositiveInfinity : v < 0 ? -v : v;
            if (magnitude > most) most = magnitude;
        }
        return most;
    }

    /// <summary><c>values[q] = value</c>: the ones vector whose product with a delta matrix sums its columns (bias gradients).</summary>
    public static void Fill(Index1D thread, WorkSplit elements, float value, ArrayView<float> values)
    {
        for (int q = elements.First(thread), end = elements.End(thread), stride = elements.Stride; q < end; q += stride)
            values[q] = value;
    }
}
