using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>
/// The independent float32 check of a code, written apart from <see cref="RoundingProfile"/> and
/// <see cref="CodeConditioning"/>: System.Random gradients, float32 encoding as a worker does it, the decoder's weights
/// applied in float64 to the float32 vectors, and the relative error against the float64 sum of the float32 gradients.
/// </summary>
internal sealed class Float32DecodeCheck
{
    private readonly IGradientCode _code;
    private readonly float[][] _encoded;
    private readonly double[] _truth;
    private readonly double _truthNorm;

    public Float32DecodeCheck(IGradientCode code, int dimension, int seed)
    {
        _code = code;
        var random = new Random(seed);
        var g = new float[code.Partitions][];
        _truth = new double[dimension];
        for (int j = 0; j < code.Partitions; j++)
        {
            g[j] = new float[dimension];
            for (int t = 0; t < dimension; t++)
            {
                // Box–Muller: N(0, 1) like the gradients the codes are judged on.
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                g[j][t] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                _truth[t] += g[j][t];
            }
        }
        _truthNorm = Math.Sqrt(_truth.Sum(v => v * v));
        _encoded = new float[code.Workers][];
        for (int i = 0; i < code.Workers; i++)
        {
            _encoded[i] = new float[dimension];
            foreach (int j in code.PartitionsOf(i))
            {
                float b = (float)code[i, j];
                for (int t = 0; t < dimension; t++) _encoded[i][t] += b * g[j][t];
            }
        }
    }

    /// <summary>Relative error of decoding <paramref name="responders"/> with the code's own weights; null when they do not decode.</summary>
    public double? Error(int[] responders)
    {
        var decode = _code.Decode(responders);
        if (!decode.IsDecodable) return null;
        double error = 0;
        for (int t = 0; t < _truth.Length; t++)
        {
            double sum = 0;
            for (int r = 0; r < responders.Length; r++) sum += decode.Weights[r] * _encoded[responders[r]][t];
            error += (sum - _truth[t]) * (sum - _truth[t]);
        }
        return Math.Sqrt(error) / _truthNorm;
    }
}
