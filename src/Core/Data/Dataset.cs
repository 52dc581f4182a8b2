using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>
/// A labelled classification data set in memory: dense float32 features, row-major [<see cref="Rows"/> x
/// <see cref="FeatureCount"/>], and one label in [0, <see cref="ClassCount"/>) per row. This is the layout
/// <c>IGradientKernel.SetData</c> uploads, so a data set (or a row range of it) goes to the device as is.
/// </summary>
/// <remarks>
/// <see cref="Features"/> is exposed as the array itself so that <see cref="FeatureScaler"/> can standardise
/// in place and kernels can upload without a copy; nothing else should write to it.
/// </remarks>
public sealed class Dataset
{
    /// <summary>
    /// Wraps (does not copy) <paramref name="features"/> and <paramref name="labels"/>.
    /// </summary>
    /// <param name="name">Short name for logs and reports (<see cref="Name"/>).</param>
    /// <param name="features">Row-major [rows x featureCount] values; rows = <c>labels.Length</c>.</param>
    /// <param name="labels">Class of each row, in [0, classCount).</param>
    /// <param name="featureCount">Features per row; at least 1.</param>
    /// <param name="classCount">Number of classes; at least 1.</param>
    /// <param name="labelValues">The original label of each class (class k was labelled <c>labelValues[k]</c>
    /// in the source); null means the classes were labelled 0..C-1.</param>
    /// <param name="classNames">Display name of each class; null means the original label values.</param>
    /// <exception cref="ArgumentException">Shapes disagree or a label lies outside [0, classCount).</exception>
    public Dataset(string name, float[] features, int[] labels, int featureCount, int classCount,
        IReadOnlyList<double>? labelValues = null, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (featureCount <= 0) throw new ArgumentException($"data set '{name}' needs at least one feature (got {featureCount})");
        if (classCount <= 0) throw new ArgumentException($"data set '{name}' needs at least one class (got {classCount})");
        if ((long)labels.Length * featureCount != features.Length)
            throw new ArgumentException($"data set '{name}': {labels.Length} rows x {featureCount} features needs {(long)labels.Length * featureCount} values, got {features.Length}");
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"data set '{name}': row {i} has label {labels[i]}, outside [0, {classCount})");
        }
        labelValues ??= Enumerable.Range(0, classCount).Select(c => (double)c).ToArray();
        if (labelValues.Count != classCount)
            throw new ArgumentException($"data set '{name}': {labelValues.Count} label values for {classCount} classes");
        classNames ??= labelValues.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray();
        if (classNames.Count != classCount)
            throw new ArgumentException($"data set '{name}': {classNames.Count} class names for {classCount} classes");

        Name = name;
        Features = features;
        Labels = labels;
        FeatureCount = featureCount;
        ClassCount = classCount;
        LabelValues = labelValues;
        ClassNames = classNames;
    }

    /// <summary>Short name for logs and reports, e.g. <c>digits</c> or <c>digits/train</c>.</summary>
    public string Name { get; }

    /// <summary>Row-major [Rows x FeatureCount] feature values, all finite.</summary>
    public float[] Features { get; }

    /// <summary>Class of each row, in [0, ClassCount).</summary>
    public int[] Labels { get; }

    /// <summary>Features per row, at least 1.</summary>
    public int FeatureCount { get; }

    /// <summary>Number of classes the data set is labelled with; a subset may not contain all of them.</summary>
    public int ClassCount { get; }

    /// <summary>The label mapping: class k stood for the value <c>LabelValues[k]</c> in the source.</summary>
    public IReadOnlyList<double> LabelValues { get; }

    /// <summary>Display name of each class (from a file header where it had them, else the original label).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of rows, the length of <see cref="Labels"/>; may be 0.</summary>
    public int Rows => Labels.Length;

    /// <summary>The features of row <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Row(int i)
    {
        if ((uint)i >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(i), i, $"row index outside [0, {Rows}) of data set '{Name}'");
        return Features.AsSpan(i * FeatureCount, FeatureCount);
    }

    /// <summary>
    /// A new data set holding copies of the given rows, in the given order (repeats allowed), with the same
    /// classes and label mapping.
    /// </summary>
    public Dataset Select(ReadOnlySpan<int> rows, string? name = null)
    {
        var features = new float[(long)rows.Length * FeatureCount];
        var labels = new int[rows.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            Row(rows[k]).CopyTo(features.AsSpan(k * FeatureCount, FeatureCount));
            labels[k] = Labels[rows[k]];
        }
        return new Dataset(name ?? Name, features, labels, FeatureCount, ClassCount, LabelValues, ClassNames);
    }

    /// <summary>Name and shape for logs, e.g. <c>digits (1797 rows x 64 features, 10 classes)</c>.</summary>
    public override string ToString() => $"{Name} ({Rows} rows x {FeatureCount} features, {ClassCount} classes)";
}
