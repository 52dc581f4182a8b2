namespace GpuPs.Core.Data;

/// <summary>
/// A data set ready for training: loaded from its spec, split into train and test, and standardised with
/// statistics of the training rows. Workers and the evaluation driver all call <see cref="Prepare"/> with the
/// job's (spec, test fraction, seed), so every process holds the identical split without shipping data.
/// </summary>
public sealed class PreparedData
{
    private PreparedData(string spec, ulong seed, Dataset train, Dataset test, FeatureScaler scaler)
    {
        Spec = spec;
        Seed = seed;
        Train = train;
        Test = test;
        Scaler = scaler;
    }

    /// <summary>The data-set spec it was loaded from (a <see cref="DatasetCatalog.AcceptedForms"/> form).</summary>
    public string Spec { get; }
    /// <summary>The seed of generated data and of the shuffle that made the split.</summary>
    public ulong Seed { get; }

    /// <summary>Standardised, shuffled training rows; partition them with <see cref="DataPartitioner"/>.</summary>
    public Dataset Train { get; }

    /// <summary>Held-out rows, standardised with the training statistics.</summary>
    public Dataset Test { get; }

    /// <summary>The training statistics, for standardising further data the same way.</summary>
    public FeatureScaler Scaler { get; }

    /// <summary>Features per row, the same in both sets.</summary>
    public int FeatureCount => Train.FeatureCount;
    /// <summary>Classes of the whole data set, the same in both sets; either set may lack rows of some.</summary>
    public int ClassCount => Train.ClassCount;

    /// <summary>
    /// <see cref="DatasetCatalog.Load"/>, then <see cref="TrainTestSplit.Split"/>, then <see cref="FeatureScaler"/>
    /// fitted on the training rows and applied to both sets. Deterministic in (spec, testFraction, seed).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown spec or testFraction outside (0, 1).</exception>
    /// <exception cref="FileNotFoundException">A named file does not exist.</exception>
    /// <exception cref="DataFormatException">A file is not a valid data set.</exception>
    public static PreparedData Prepare(string spec, double testFraction, ulong seed)
    {
        // Checked before loading so that a bad fraction fails at once, not after reading a large file.
        TrainTestSplit.CheckFraction(testFraction);
        Dataset data = DatasetCatalog.Load(spec, seed);
        var (train, test) = TrainTestSplit.Split(data, testFraction, seed);
        FeatureScaler scaler = FeatureScaler.Fit(train);
        scaler.Apply(train);
        scaler.Apply(test);
        return new PreparedData(spec, seed, train, test, scaler);
    }
}
