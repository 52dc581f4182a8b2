using GpuPs.Core.Models;
using GpuPs.Core.Scheduling;
using GpuPs.Kernels;

namespace GpuPs.Core.Tests.Scheduling;

public class PiecePlanTests
{
    [Theory]
    [InlineData(0, 1000, 100)]
    [InlineData(300, 700, 64)]
    [InlineData(0, 1000, 1)]
    [InlineData(0, 1000, 5000)]
    public void Pieces_cover_the_shard_exactly_in_key_order_and_none_is_larger_than_a_piece_and_a_quarter(long offset, int length, int pieceFloats)
    {
        long[] layers = [0, 250, 260, 900, 905];
        var pieces = PiecePlan.Of(offset, length, layers, pieceFloats);

        int next = 0;
        foreach (var piece in pieces)
        {
            Assert.Equal(next, piece.Range.Offset);
            Assert.InRange(piece.Range.Length, 1, pieceFloats + pieceFloats / 4);
            next = piece.Range.End;
        }
        Assert.Equal(length, next);
        Assert.True(pieces.Select(p => p.Layer).SequenceEqual(pieces.Select(p => p.Layer).Order()), "priorities follow key order");
    }

    [Fact]
    public void Pieces_are_cut_at_layer_boundaries_and_take_their_layer_as_priority_and_slivers_join_the_next_layer()
    {
        // The MLP's layers: hidden.weight [64 x 100], hidden.bias [64], output.weight [10 x 64], output.bias [10].
        var layers = ModelLayer.Of(new ModelShape(ModelKind.Mlp, 100, 10, 64)).Select(l => (long)l.Offset).ToArray();
        var pieces = PiecePlan.Of(0, 6400 + 64 + 640 + 10, layers, 1600);

        // The first layer ends on a cut; the 64-value bias is a sliver (under a quarter piece), so it leads the output layer's piece.
        Assert.Equal([(0, 1600, 0), (1600, 1600, 0), (3200, 1600, 0), (4800, 1600, 0), (6400, 714, 1)],
            pieces.Select(p => (p.Range.Offset, p.Range.Length, p.Layer)).ToArray());
    }

    [Fact]
    public void A_shard_in_the_middle_of_the_vector_takes_the_layers_it_overlaps()
    {
        long[] layers = [0, 100, 200];
        var pieces = PiecePlan.Of(150, 100, layers, 50);

        Assert.Equal([(0, 50, 1), (50, 50, 2)], pieces.Select(p => (p.Range.Offset, p.Range.Length, p.Layer)).ToArray());
    }
}
