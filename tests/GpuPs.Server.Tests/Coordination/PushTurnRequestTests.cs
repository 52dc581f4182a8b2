using GpuPs.Core.Shards;
using GpuPs.Protocol;

namespace GpuPs.Server.Tests.Coordination;

/// <summary>A request for a push turn whose piece lies outside the shard is refused by name, never cut to a range inside it.</summary>
public class PushTurnRequestTests
{
    [Theory]
    [InlineData(4_294_967_300L)]   // 2^32 + 4: cut to 32 bits, offset 4 would be a range of the shard
    [InlineData(-1L)]
    public async Task A_piece_offset_outside_the_shard_is_refused(long offset)
    {
        using var shard = ShardFixture.Create(ShardFixture.Job(SyncMode.Bsp, 1, 10));
        ShardFixture.RegisterAll(shard, 1);
        var e = await Assert.ThrowsAsync<ShardException>(() =>
            shard.AwaitPushTurnAsync(new PushTurnRequest { WorkerId = 0, Step = 0, PieceOffset = offset, PieceLength = 2, Order = -1 }, CancellationToken.None));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains($"piece offset {offset}", e.Message);
    }
}
