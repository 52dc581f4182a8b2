using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>
/// Loads the LibSVM / SVMlight text format: one row per line, <c>label index:value index:value …</c>, with
/// 1-based feature indices in increasing order and absent features meaning 0. Text after <c>#</c> is a
/// comment. Files ending in <c>.gz</c> are decompressed on the fly.
/// </summary>
/// <remarks>
/// Rows are densified to float32: the feature count is the largest index seen, or the count the caller
/// gives (so that a train and a test file agree). Labels such as -1/+1 or 1..K are mapped to 0..C-1 by
/// sorted distinct value (<see cref="Dataset.LabelValues"/> keeps the mapping). Every malformed line throws
/// <see cref="DataFormatException"/> naming the file and line.
/// </remarks>
public static class LibSvmDatasetLoader
{
    /// <summary>Loads the LibSVM file at <paramref name="path"/>.</summary>
    /// <param name="path">The file; a name ending in <c>.gz</c> is read as gzip.</param>
    /// <param name="featureCount">Number of features to densify to; null: the largest index in the file.
    /// An index above it is an error.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">The file is not a valid data set.</exception>
    public static Dataset Load(string path, int? featureCount = null)
    {
        using var reader = DataTextReader.OpenFile(path, comment: '#');
        return Read(reader, featureCount);
    }

    /// <summary>Loads LibSVM text from <paramref name="stream"/> (disposed afterwards); <paramref name="sourceName"/>
    /// names it in errors and, when it ends in <c>.gz</c>, marks it as gzip-compressed.</summary>
    /// <exception cref="DataFormatException">The input is not a valid data set.</exception>
    public static Dataset Load(Stream stream, string sourceName, int? featureCount = null)
    {
        using var reader = DataTextReader.Open(stream, sourceName, comment: '#');
        return Read(reader, featureCount);
    }

    private static Dataset Read(DataTextReader reader, int? featureCount)
    {
        if (featureCount is <= 0) throw new ArgumentOutOfRangeException(nameof(featureCount), featureCount, "feature count must be positive");

        // Sparse (CSR) first: the feature count is known only at the end of the file.
        var tokens = new List<Range>();
        var rawLabels = new List<double>();
        var rowEnds = new List<int>();
        var indices = new List<int>();
        var values = new List<float>();
        int maxIndex = 0;
        while (reader.TryReadLine(out string line))
        {
            DataTextReader.Split(line, " \t", skipEmpty: true, tokens);
            rawLabels.Add(reader.ParseNumber<double>(line.AsSpan(tokens[0]), "label"));
            int previous = 0;
            foreach (Range t in tokens.Skip(1))
            {
                ReadOnlySpan<char> token = line.AsSpan(t);
                int colon = token.IndexOf(':');
                if (colon <= 0 || !int.TryParse(token[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw reader.Error($"bad feature '{token}' (expected index:value)");
                if (index == 0) throw reader.Error($"bad feature '{token}': feature indices are 1-based");
                if (index <= previous)
                    throw reader.Error($"bad feature '{token}': indices must increase along a line (previous index {previous})");
                if (index > featureCount)
                    throw reader.Error($"bad feature '{token}': index exceeds the feature count {featureCount}");
                values.Add(reader.ParseNumber<float>(token[(colon + 1)..], $"value of feature {index}"));
                indices.Add(index - 1);
                previous = index;
            }
            maxIndex = Math.Max(maxIndex, previous);
            rowEnds.Add(indices.Count);
        }
        if (rawLabels.Count == 0) throw new DataFormatException(reader.Source, "empty file (no data rows)");

        int features = featureCount ?? maxIndex;
        if (features == 0) throw new DataFormatException(reader.Source, "no row has any feature value");
        long denseLength = (long)rawLabels.Count * features;
        if (denseLength > Array.MaxLength)
            throw new DataFormatException(reader.Source,
                $"{rawLabels.Count} rows x {features} features is too large to hold densely ({denseLength} values)");

        int[] labels = LabelEncoding.Encode(rawLabels, reader.Source, out double[] classValues);
        var dense = new float[denseLength];
        for (int row = 0, k = 0; row < rowEnds.Count; row++)
        {
            for (; k < rowEnds[row]; k++) dense[(long)row * features + indices[k]] = values[k];
        }
        return new Dataset(reader.DatasetName, dense, labels, features, classValues.Length, classValues);
    }
}
