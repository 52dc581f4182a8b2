using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// Plain scalar double-precision loss, gradient sum and correct count of the three models, written straight from
/// the definitions (loops, no SIMD, no shared code with the kernels): the tests' source of truth.
/// </summary>
public static class ReferenceModel
{
    public sealed record Result(double Loss, double[] Gradient, int Correct);

    public static Result Compute(ModelShape shape, IReadOnlyList<double> p, float[] features, int[] labels, int start, int count)
    {
        var gradient = new double[shape.ParameterCount];
        double loss = 0;
        int correct = 0;
        for (int row = start; row < start + count; row++)
        {
            var x = new double[shape.Features];
            for (int k = 0; k < shape.Features; k++) x[k] = features[row * shape.Features + k];
            int y = labels[row];
            (double rowLoss, int predicted) = shape.Kind switch
            {
                ModelKind.Logistic => Logistic(shape, p, x, y, gradient),
                ModelKind.Softmax => Softmax(p, 0, shape.Classes, x, y, gradient),
                _ => Mlp(shape, p, x, y, gradient),
            };
            loss += rowLoss;
            if (predicted == y) correct++;
        }
        return new Result(loss, gradient, correct);
    }

    public static double Loss(ModelShape shape, IReadOnlyList<double> p, float[] features, int[] labels, int start, int count) =>
        Compute(shape, p, features, labels, start, count).Loss;

    private static (double, int) Logistic(ModelShape shape, IReadOnlyList<double> p, double[] x, int y, double[] gradient)
    {
        int f = shape.Features;
        double z = p[f];
        for (int k = 0; k < f; k++) z += p[k] * x[k];
        double probability = 1 / (1 + Math.Exp(-z));
        double residual = probability - y;
        for (int k = 0; k < f; k++) gradient[k] += residual * x[k];
        gradient[f] += residual;
        double loss = Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z))) - y * z;
        return (loss, z > 0 ? 1 : 0);
    }

    /// <summary>Softmax layer W[classes x inputs], b[classes] at p[offset..]; adds its gradient; returns loss,
    /// prediction and the residual per class through <paramref name="residuals"/>.</summary>
    private static (double, int) Softmax(IReadOnlyList<double> p, int offset, int classes, double[] input, int y, double[] gradient, double[]? residuals = null)
    {
        int n = input.Length;
        var z = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            z[c] = p[offset + classes * n + c];
            for (int k = 0; k < n; k++) z[c] += p[offset + c * n + k] * input[k];
        }
        int predicted = 0;
        for (int c = 1; c < classes; c++) if (z[c] > z[predicted]) predicted = c;
        double max = z[predicted], sum = 0;
        for (int c = 0; c < classes; c++) sum += Math.Exp(z[c] - max);
        double logSumExp = max + Math.Log(sum);
        for (int c = 0; c < classes; c++)
        {
            double residual = Math.Exp(z[c] - logSumExp) - (c == y ? 1 : 0);
            if (residuals is not null) residuals[c] = residual;
            for (int k = 0; k < n; k++) gradient[offset + c * n + k] += residual * input[k];
            gradient[offset + classes * n + c] += residual;
        }
        return (logSumExp - z[y], predicted);
    }

    private static (double, int) Mlp(ModelShape shape, IReadOnlyList<double> p, double[] x, int y, double[] gradient)
    {
        int f = shape.Features, h = shape.Hidden, classes = shape.Classes;
        int layer2 = h * f + h;
        var a = new double[h];
        for (int j = 0; j < h; j++)
        {
            double pre = p[h * f + j];
            for (int k = 0; k < f; k++) pre += p[j * f + k] * x[k];
            a[j] = Math.Max(pre, 0);
        }
        var residuals = new double[classes];
        var result = Softmax(p, layer2, classes, a, y, gradient, residuals);
        for (int j = 0; j < h; j++)
        {
            if (a[j] <= 0) continue;
            double delta = 0;
            for (int c = 0; c < classes; c++) delta += residuals[c] * p[layer2 + c * h + j];
            for (int k = 0; k < f; k++) gradient[j * f + k] += delta * x[k];
            gradient[h * f + j] += delta;
        }
        return result;
    }
}
