using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

public class PartitionCoverageTests
{
    [Fact]
    public void FractionalGroupsAreCoveredByOneResponderEach()
    {
        var coverage = new PartitionCoverage(new FractionalRepetitionCode(8, 1));   // groups {0,1} {2,3} {4,5} {6,7}
        ulong fastSix = 0b1101_1011;                                                // workers 2 and 5 missing
        Assert.True(coverage.IsComplete(coverage.Of(fastSix)));
        Assert.True(coverage.IsComplete(coverage.Of(0b0101_0101)));                 // one per group
        ulong groupMissing = 0b1111_0011;                                           // group {2,3} absent
        Assert.False(coverage.IsComplete(coverage.Of(groupMissing)));
        Assert.Equal([2, 3], coverage.Missing(coverage.Of(groupMissing)));
    }

    [Fact]
    public void CyclicWindowsCoverTheirPartitions()
    {
        var code = new CyclicRepetitionCode(7, 2);
        var coverage = new PartitionCoverage(code);
        for (int i = 0; i < 7; i++)
            Assert.Equal(code.PartitionsOf(i), coverage.Missing(~coverage.Of(1UL << i)).Where(j => j < 7));
        Assert.Empty(coverage.Missing(coverage.Of(0b100_1001)));   // workers 0, 3, 6 hold 0-2, 3-5, 6-1
    }
}
