using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

internal static class TestData
{
    /// <summary>
    /// <paramref name="rows"/> x 2 features where feature 0 is the row's original index (so tests can tell rows
    /// apart after shuffling) and the label is <c>i % classes</c>.
    /// </summary>
    public static Dataset Indexed(int rows, int classes = 2)
    {
        var features = new float[rows * 2];
        var labels = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            features[2 * i] = i;
            features[2 * i + 1] = i % 7;
            labels[i] = i % classes;
        }
        return new Dataset("indexed", features, labels, featureCount: 2, classCount: classes);
    }

    /// <summary>The original row indices of <paramref name="data"/> built by <see cref="Indexed"/>.</summary>
    public static int[] OriginalRows(Dataset data) =>
        Enumerable.Range(0, data.Rows).Select(i => (int)data.Row(i)[0]).ToArray();
}
