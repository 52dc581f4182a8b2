using GpuPs.Core.Data;

namespace GpuPs.Core.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void RowAndSelectCopyTheRequestedRows()
    {
        Dataset data = TestData.Indexed(10, classes: 3);

        Assert.Equal(10, data.Rows);
        Assert.Equal(new float[] { 4, 4 }, data.Row(4).ToArray());

        Dataset picked = data.Select([7, 2, 7]);
        Assert.Equal(new[] { 7, 2, 7 }, TestData.OriginalRows(picked));
        Assert.Equal(new[] { 1, 2, 1 }, picked.Labels);
        Assert.Equal(3, picked.ClassCount);
        Assert.Equal(data.ClassNames, picked.ClassNames);
        picked.Features[0] = -1;
        Assert.Equal(7, data.Row(7)[0]);
    }

    [Fact]
    public void DefaultsLabelMappingToClassIndices()
    {
        Dataset data = TestData.Indexed(4);

        Assert.Equal(new double[] { 0, 1 }, data.LabelValues);
        Assert.Equal(new[] { "0", "1" }, data.ClassNames);
    }

    [Fact]
    public void RejectsInconsistentShapesAndLabels()
    {
        Assert.Throws<ArgumentException>(() => new Dataset("x", new float[5], new int[2], featureCount: 2, classCount: 2));
        Assert.Throws<ArgumentException>(() => new Dataset("x", new float[4], [0, 2], featureCount: 2, classCount: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestData.Indexed(3).Row(3));
    }
}
