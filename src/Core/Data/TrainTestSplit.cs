namespace GpuPs.Core.Data;

/// <summary>Seeded, stratified division of a data set into training and test rows.</summary>
public static class TrainTestSplit
{
    // Its own random stream, so that the split is independent of synthetic data drawn from the same seed.
    private const ulong SplitStream = 2;

    /// <summary>
    /// Puts round(rows · <paramref name="testFraction"/>) rows (at least one, and at least one left for
    /// training) into the test set and the rest into the training set. Each class contributes to the test set
    /// in proportion to its size (stratified), and both sets come out shuffled, so contiguous
    /// <see cref="DataPartitioner"/> ranges of the training set are random samples. The same (data, fraction,
    /// seed) give the same split on every machine.
    /// </summary>
    /// <exception cref="ArgumentException">testFraction outside (0, 1), or fewer than two rows.</exception>
    public static DatasetSplit Split(Dataset data, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckFraction(testFraction);
        if (data.Rows < 2) throw new ArgumentException($"cannot split data set '{data.Name}' with {data.Rows} row(s) into train and test");

        int testRows = data.Rows - TrainRows(data.Rows, testFraction);

        var byClass = new List<int>[data.ClassCount];
        for (int c = 0; c < byClass.Length; c++) byClass[c] = [];
        for (int i = 0; i < data.Rows; i++) byClass[data.Labels[i]].Add(i);
        int[] testPerClass = DataPartitioner.Apportion(testRows, byClass.Select(rows => (double)rows.Count).ToArray());

        var random = new SeededRandom(seed, SplitStream);
        var train = new List<int>(data.Rows - testRows);
        var test = new List<int>(testRows);
        for (int c = 0; c < byClass.Length; c++)
        {
            int[] rows = byClass[c].ToArray();
            random.Shuffle(rows.AsSpan());
            test.AddRange(rows.AsSpan(0, testPerClass[c]));
            train.AddRange(rows.AsSpan(testPerClass[c]));
        }
        int[] trainRows = train.ToArray(), testRowsShuffled = test.ToArray();
        random.Shuffle(trainRows.AsSpan());
        random.Shuffle(testRowsShuffled.AsSpan());
        return new DatasetSplit(data.Select(trainRows, $"{data.Name}/train"), data.Select(testRowsShuffled, $"{data.Name}/test"));
    }

    /// <summary>Training rows a split of <paramref name="rows"/> rows keeps (at least one row on each side).</summary>
    public static int TrainRows(int rows, double testFraction)
    {
        CheckFraction(testFraction);
        return rows - Math.Clamp((int)Math.Round(rows * testFraction, MidpointRounding.AwayFromZero), 1, rows - 1);
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless 0 &lt; <paramref name="testFraction"/> &lt; 1.</summary>
    public static void CheckFraction(double testFraction)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction,
                "the test fraction must lie strictly between 0 and 1 (e.g. 0.2 holds out 20% of the rows)");
    }
}
