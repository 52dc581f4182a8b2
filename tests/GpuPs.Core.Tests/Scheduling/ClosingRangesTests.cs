using GpuPs.Core.Aggregation;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Compression;
using GpuPs.Core.Scheduling;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog.Core;
using ModelKind = GpuPs.Kernels.ModelKind;

namespace GpuPs.Core.Tests.Scheduling;

/// <summary>
/// The ranges a shard closes one by one: derived from the job alone (so the shard and every worker agree), the piece plan
/// at the job's size, and only where one set of pushes decides every range of a step.
/// </summary>
public class ClosingRangesTests
{
    private static TrainingJob Mlp(string mode, int pieceFloats, CompressionKind pull = CompressionKind.None) =>
        JobBuilder.Build(new JobDefinition(Dataset: "synthetic:rows=200,features=30,classes=4", Model: ModelKind.Mlp, Hidden: 40, Workers: 3,
            Mode: mode, Stragglers: mode is "coded" or "backup" ? 1 : 0, Steps: 5, PieceFloats: pieceFloats,
            Compression: new CompressionSettings(Pull: pull)));

    [Fact]
    public void A_bsp_shard_closes_the_piece_plan_of_the_jobs_size_cut_at_layer_boundaries()
    {
        var job = Mlp("bsp", 300);
        var shards = ShardLayout.Compute(job.ParameterCount, 2);
        var layerStarts = Core.Models.ModelLayer.Of(job.Model).Select(l => (long)l.Offset).ToArray();
        foreach (var shard in shards)
        {
            var ranges = ClosingRanges.Of(job, shard)!;
            Assert.Equal(PiecePlan.Of(shard.Offset, (int)shard.Length, layerStarts, 300).Select(p => p.Range), ranges);
            Assert.Equal((int)shard.Length, ranges.Sum(r => r.Length));
        }
        // One shard: 1,404 values; the hidden layer's weights (30 x 40) end a range, its 40 biases join the next layer's piece.
        var one = ClosingRanges.Of(job, ShardLayout.Compute(job.ParameterCount, 1)[0])!;
        Assert.Equal([new PieceRange(0, 300), new(300, 300), new(600, 300), new(900, 300), new(1200, 204)], one);
    }

    [Theory]
    [InlineData("coded", 300, CompressionKind.None)]
    [InlineData("backup", 300, CompressionKind.None)]
    [InlineData("asp", 300, CompressionKind.None)]
    [InlineData("bsp", 0, CompressionKind.None)]
    [InlineData("bsp", 300, CompressionKind.TopK)]
    [InlineData("bsp", 100_000, CompressionKind.None)]
    public void Shards_close_whole_steps_without_pieces_without_a_per_range_rule_with_compressed_pulls_or_when_one_range_is_the_shard(string mode, int pieceFloats, CompressionKind pull)
    {
        var job = Mlp(mode, pieceFloats, pull);
        Assert.Null(ClosingRanges.Of(job, ShardLayout.Compute(job.ParameterCount, 1)[0]));
    }

    [Fact]
    public void A_model_cut_into_ranges_checkpoints_its_optimizers_as_one_and_resumes_them_range_by_range()
    {
        PieceRange[] ranges = [new(0, 3), new(3, 5)];
        var settings = new OptimizerSettings(OptimizerKind.Adam, 0.1f);
        var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var whole = new ShardModel(new float[8], () => backend.CreateOptimizer(settings, 8), Logger.None);
        using var cut = new ShardModel(new float[8], ranges, n => backend.CreateOptimizer(settings, n), Logger.None);
        float[] gradient = [1, -2, 3, -4, 5, -6, 7, -8];
        whole.ApplySum([.. gradient], 2, 1);
        cut.ApplyRange(1, gradient.AsSpan(3).ToArray(), 2, 1);
        Assert.False(cut.AtStepBoundary);
        Assert.Equal(0, cut.Step);
        cut.ApplyRange(0, gradient.AsSpan(0, 3).ToArray(), 2, 1);
        Assert.Equal(1, cut.Step);

        var state = cut.ExportOptimizer();
        Assert.Equal(whole.ExportOptimizer().Slots, state.Slots);
        Assert.Equal(whole.Parameters.ToArray(), cut.Parameters.ToArray());
        using var resumed = new ShardModel(new float[8], ranges, n => backend.CreateOptimizer(settings, n), Logger.None);
        resumed.Resume(1, cut.Parameters, state);
        resumed.ApplySum([.. gradient], 2, 1);
        whole.ApplySum([.. gradient], 2, 1);
        Assert.Equal(whole.Parameters.ToArray(), resumed.Parameters.ToArray());
        Assert.Equal(2, resumed.Step);
    }

    [Fact]
    public void Ranges_whose_optimizers_count_different_steps_keep_their_counts_through_a_checkpoint_file()
    {
        // Range 1's update overflows (3.4e38 + an Adam step of about 1e37): it is skipped and its optimizer restarts at 0 steps.
        PieceRange[] ranges = [new(0, 3), new(3, 5)];
        var settings = new OptimizerSettings(OptimizerKind.Adam, 1e37f);
        var backend = Accelerators.Create(AcceleratorChoice.Simd);
        float[] initial = [0, 0, 0, 3.4e38f, 3.4e38f, 3.4e38f, 3.4e38f, 3.4e38f];
        using var model = new ShardModel([.. initial], ranges, n => backend.CreateOptimizer(settings, n), Logger.None);
        model.ApplySum([-1, -1, -1, -1, -1, -1, -1, -1], 1, 1);
        Assert.Equal(1, model.UpdatesSkipped);

        var state = model.ExportOptimizer();
        Assert.Equal([1L, 0L], state.RangeSteps!);
        string path = Path.Combine(Path.GetTempPath(), $"gpups-range-steps-{Guid.NewGuid():N}.safetensors");
        try
        {
            CheckpointFile.Write(path, new ShardCheckpoint("job", 0, 1, 0, model.Step, model.Parameters.ToArray(), state, []));
            Assert.True(CheckpointFile.TryRead(path, out var read, out string problem), problem);
            Assert.Equal([1L, 0L], read!.Optimizer.RangeSteps!);
            using var resumed = new ShardModel(new float[8], ranges, n => backend.CreateOptimizer(settings, n), Logger.None);
            resumed.Resume(read.Step, read.Parameters, read.Optimizer);
            Assert.Equal([1L, 0L], resumed.ExportOptimizer().RangeSteps!);
            using var wrong = new ShardModel(new float[8], null, n => backend.CreateOptimizer(settings, n), Logger.None);
            Assert.Contains("counts steps for 2 ranges, the shard closes 1", Assert.Throws<ArgumentException>(() => wrong.Resume(read.Step, read.Parameters, read.Optimizer)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_shard_of_one_value_ranges_finds_each_values_range_and_steps_exactly_when_its_last_range_closes()
    {
        const int length = 1000;
        var ranges = Enumerable.Range(0, length).Select(i => new PieceRange(i, 1)).ToArray();
        var backend = Accelerators.Create(AcceleratorChoice.Simd);
        using var model = new ShardModel(new float[length], ranges, n => backend.CreateOptimizer(new OptimizerSettings(OptimizerKind.Sgd, 1f), n), Logger.None);
        Assert.All(Enumerable.Range(0, length), i => Assert.Equal(i, model.RangeOf(i)));
        var random = new Random(3);
        for (int step = 0; step < 2; step++)
        {
            var order = Enumerable.Range(0, length).OrderBy(_ => random.Next()).ToArray();
            foreach (int r in order[..^1]) model.ApplyRange(r, [1f], 1, 0);
            Assert.Equal(step, model.Step);
            model.ApplyRange(order[^1], [1f], 1, 0);
            Assert.Equal(step + 1, model.Step);
        }
        Assert.All(model.Parameters.ToArray(), p => Assert.Equal(-2f, p));
    }
}
