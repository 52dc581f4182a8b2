namespace GpuPs.Core.Data;

/// <summary>
/// Per-feature standardisation, x' = (x − mean) / std, with statistics taken from the training set only so
/// that no test information leaks into training. Standardised features keep gradient steps balanced across
/// features, which is what makes one learning rate work for digits (0–16) and breast cancer (0.001–4000).
/// </summary>
public sealed class FeatureScaler
{
    private readonly float[] _mean, _std;

    private FeatureScaler(float[] mean, float[] std)
    {
        _mean = mean;
        _std = std;
    }

    /// <summary>Mean of each feature over the rows the scaler was fitted on.</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Population standard deviation of each feature; 1 for a feature that is constant.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>Number of features it was fitted on; <see cref="Apply"/> accepts only data sets with as many.</summary>
    public int FeatureCount => _mean.Length;

    /// <summary>Computes per-feature mean and standard deviation of <paramref name="train"/> (in double precision).</summary>
    /// <exception cref="ArgumentException">The data set has no rows.</exception>
    public static FeatureScaler Fit(Dataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Rows == 0) throw new ArgumentException($"cannot fit a scaler on data set '{train.Name}' with no rows", nameof(train));
        int n = train.Rows, d = train.FeatureCount;
        var sum = new double[d];
        var maxAbs = new double[d];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = train.Row(i);
            for (int j = 0; j < d; j++)
            {
                sum[j] += row[j];
                maxAbs[j] = Math.Max(maxAbs[j], Math.Abs(row[j]));
            }
        }
        // Two passes (mean, then squared deviations) rather than E[x²] − E[x]², which cancels badly.
        var squares = new double[d];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = train.Row(i);
            for (int j = 0; j < d; j++)
            {
                double deviation = row[j] - sum[j] / n;
                squares[j] += deviation * deviation;
            }
        }
        var mean = new float[d];
        var std = new float[d];
        for (int j = 0; j < d; j++)
        {
            mean[j] = (float)(sum[j] / n);
            double s = Math.Sqrt(squares[j] / n);
            // float32 cannot resolve a spread below ~1e-6 of the feature's magnitude, so such a feature is
            // constant up to rounding; dividing by its std would only blow rounding noise up.
            std[j] = s > 1e-6 * maxAbs[j] ? (float)s : 1f;
        }
        return new FeatureScaler(mean, std);
    }

    /// <summary>Standardises <paramref name="data"/> in place (its <see cref="Dataset.Features"/> array).</summary>
    /// <exception cref="ArgumentException">The data set has a different number of features.</exception>
    public void Apply(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.FeatureCount != FeatureCount)
            throw new ArgumentException($"scaler was fitted on {FeatureCount} features, data set '{data.Name}' has {data.FeatureCount}", nameof(data));
        for (int i = 0; i < data.Rows; i++)
        {
            Span<float> row = data.Features.AsSpan(i * FeatureCount, FeatureCount);
            for (int j = 0; j < row.Length; j++) row[j] = (row[j] - _mean[j]) / _std[j];
        }
    }
}
