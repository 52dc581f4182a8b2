using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>Maps the label values read from a file to class indices 0..C-1.</summary>
internal static class LabelEncoding
{
    /// <summary>
    /// Class k is the k-th smallest distinct value of <paramref name="raw"/>, so -1/+1 become 0/1 and 1..K
    /// become 0..K-1, the same for every file with the same label set.
    /// </summary>
    /// <param name="raw">The label of each row, as read.</param>
    /// <param name="source">Names the input in the error.</param>
    /// <param name="classValues">The distinct values in ascending order: the mapping, kept by <see cref="Dataset.LabelValues"/>.</param>
    /// <exception cref="DataFormatException">Fewer than two distinct labels: nothing to classify.</exception>
    public static int[] Encode(IReadOnlyList<double> raw, string source, out double[] classValues)
    {
        // + 0.0 turns -0.0 into 0.0 so that both spellings of zero are one class.
        var normalised = raw.Select(v => v + 0.0).ToArray();
        classValues = normalised.Distinct().Order().ToArray();
        if (classValues.Length < 2)
            throw new DataFormatException(source,
                $"every row has label {classValues[0].ToString(CultureInfo.InvariantCulture)}; classification needs at least two classes");
        var labels = new int[normalised.Length];
        for (int i = 0; i < labels.Length; i++) labels[i] = Array.BinarySearch(classValues, normalised[i]);
        return labels;
    }
}
