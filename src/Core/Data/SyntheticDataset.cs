using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>Generated data sets whose difficulty is known in advance; reproducible from a seed.</summary>
public static class SyntheticDataset
{
    // The defaults follow the gradient-coding experiments: 5000 x 100, two Gaussian classes.
    /// <summary>Rows of a synthetic set when neither the caller nor the spec gives them.</summary>
    public const int DefaultRows = 5000;
    /// <summary>Features of a synthetic set when neither the caller nor the spec gives them.</summary>
    public const int DefaultFeatures = 100;
    /// <summary>Classes of a synthetic set when neither the caller nor the spec gives them.</summary>
    public const int DefaultClasses = 2;
    /// <summary>
    /// Root-mean-square length of the class centres when neither the caller nor the spec gives it: with two classes a
    /// Bayes-optimal error of Φ(−1), about 16%.
    /// </summary>
    public const double DefaultSeparation = 1.0;

    // Its own random stream, so that a job seed gives data independent of the split drawn from the same seed.
    private const ulong GeneratorStream = 1;

    /// <summary>Throws what <see cref="GaussianMixture"/> would throw for these arguments, without generating anything.</summary>
    public static void CheckArguments(int rows, int features, int classes, double separation)
    {
        if (rows <= 0) throw new ArgumentException($"synthetic data needs rows > 0 (got {rows})", nameof(rows));
        if (features <= 0) throw new ArgumentException($"synthetic data needs features > 0 (got {features})", nameof(features));
        if (classes < 2) throw new ArgumentException($"synthetic data needs at least two classes (got {classes})", nameof(classes));
        if (classes > rows) throw new ArgumentException($"cannot give each of {classes} classes a row with only {rows} rows", nameof(classes));
        if (!double.IsFinite(separation) || separation < 0)
            throw new ArgumentException($"separation must be finite and >= 0 (got {separation})", nameof(separation));
        if ((long)rows * features > Array.MaxLength)
            throw new ArgumentException($"{rows} rows x {features} features is too large to hold in memory");
    }

    /// <summary>
    /// A mixture of <paramref name="classes"/> Gaussians with identity covariance, one per class; row i
    /// belongs to class <c>i % classes</c>, so the classes are balanced.
    /// </summary>
    /// <remarks>
    /// Class centres are random directions, shifted so that they sum to zero and scaled so that their
    /// root-mean-square length is <paramref name="separation"/>. With two classes the centres are therefore
    /// exactly ±μ, 2·separation apart, and the Bayes-optimal error is Φ(−separation): about 16% at 1.0,
    /// 2.3% at 2.0. The same (arguments, seed) give bit-identical data on every machine.
    /// </remarks>
    /// <exception cref="ArgumentException">A size is not positive, fewer than two classes, more classes than rows,
    /// or a negative / non-finite separation.</exception>
    public static Dataset GaussianMixture(int rows = DefaultRows, int features = DefaultFeatures, int classes = DefaultClasses,
        ulong seed = 0, double separation = DefaultSeparation)
    {
        CheckArguments(rows, features, classes, separation);
        var random = new SeededRandom(seed, GeneratorStream);
        double[,] centres = Centres(random, features, classes, separation);

        var data = new float[rows * features];
        var labels = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            int c = labels[i] = i % classes;
            for (int j = 0; j < features; j++) data[i * features + j] = (float)(centres[c, j] + random.NextGaussian());
        }
        string name = string.Create(CultureInfo.InvariantCulture, $"synthetic({rows}x{features},{classes} classes,separation {separation})");
        return new Dataset(name, data, labels, features, classes);
    }

    private static double[,] Centres(SeededRandom random, int features, int classes, double separation)
    {
        var centres = new double[classes, features];
        for (int c = 0; c < classes; c++)
            for (int j = 0; j < features; j++) centres[c, j] = random.NextGaussian();

        // Centring makes two classes exactly antipodal and keeps the mixture's mean at the origin.
        double sumSquares = 0;
        for (int j = 0; j < features; j++)
        {
            double mean = 0;
            for (int c = 0; c < classes; c++) mean += centres[c, j];
            mean /= classes;
            for (int c = 0; c < classes; c++)
            {
                centres[c, j] -= mean;
                sumSquares += centres[c, j] * centres[c, j];
            }
        }
        double rmsLength = Math.Sqrt(sumSquares / classes);
        double scale = rmsLength > 0 ? separation / rmsLength : 0;
        for (int c = 0; c < classes; c++)
            for (int j = 0; j < features; j++) centres[c, j] *= scale;
        return centres;
    }
}
