using GpuPs.Core.Data;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Worker.Client;
using GpuPs.Worker.Tests.Fakes;
using Serilog;

namespace GpuPs.Worker.Tests;

/// <summary>
/// The wavefront (<see cref="StepComputation"/> with <c>wavefront</c>): a BSP step of the MLP whose push goes in the job's
/// ranges, against real shards in this process. Each piece leaves only once its gradient block is computed, and before
/// the last block is (compute overlaps the push); the step ends with the model a whole-gradient step gives; a step
/// cancelled mid-wavefront sends no piece past its compute and leaves nothing behind (the step run again closes with
/// the same model); a gradient outside the limits is refused before any piece leaves.
/// </summary>
public sealed class WavefrontTests : IAsyncDisposable
{
    // MLP 6 → 4 → 3: W1 [0, 24), b1 [24, 28), W2 [28, 40), b2 [40, 43); two shards of 22 and 21 values, closed in ranges
    // of 5 (cut inside W1's rows of 6, across W1's end and the tail's layers).
    private static readonly TrainingJob Job = new()
    {
        Dataset = "synthetic:rows=303,features=6,classes=3",
        Model = new ModelShape(Kernels.ModelKind.Mlp, 6, 3, Hidden: 4),
        Mode = SyncModes.Of(SyncMode.Bsp), Workers = 1, Steps = 3, Seed = 5, HeartbeatTimeoutMs = 60_000, PieceFloats = 5,
    };

    private readonly InProcessCluster _cluster = new(Job, shards: 2, learningRate: 0.5f, pieces: true);
    private readonly ShardedParameterClient _client;
    private readonly GatedKernel _kernel;
    private readonly PartitionPlan _plan;
    private readonly WorkerReport _report = new(0, "test");

    public WavefrontTests()
    {
        _client = _cluster.Client();
        _client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None).GetAwaiter().GetResult();
        var data = PreparedData.Prepare(Job.Dataset, Job.TestFraction, Job.Seed);
        _plan = new PartitionPlan(data.Train, Job.Mode.Assignment(Job), 0, Job.BatchSize);
        _kernel = new GatedKernel(_cluster.Backend.CreateGradientKernel(Job.Model));
        _kernel.SetData(_plan.Data.Features, _plan.Data.Labels);
    }

    private StepComputation Step(ShardedParameterClient client, IGradientKernel kernel, bool wavefront = true) =>
        new(_plan, kernel, Job.Mode.CreatePushPolicy(_plan, 0), new OneRunHook(), client, _report, Log.Logger, wavefront: wavefront);

    private async Task<float[]> PullAsync(long step)
    {
        var parameters = new float[Job.Model.ParameterCount];
        await _client.PullAsync(step, parameters, CancellationToken.None);
        return parameters;
    }

    /// <summary>The pieces the shards received so far, as ranges of the whole vector.</summary>
    private PieceRange[] PushedPieces() =>
        [.. _cluster.Fakes.SelectMany((f, i) => f.Transfers.Where(t => t.Push).Select(t => new PieceRange((int)_client.Layout[i].Offset + t.Piece!.Value.Offset, t.Piece.Value.Length)))];

    /// <summary>The parameters one step from <paramref name="start"/> gives with the whole gradient computed first, on a twin cluster.</summary>
    private async Task<float[]> AfterOneWholeStepAsync(float[] start)
    {
        using var twin = new InProcessCluster(Job, shards: 2, learningRate: 0.5f, pieces: true);
        await using var client = twin.Client();
        await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = -1 }, CancellationToken.None);
        using var kernel = twin.Backend.CreateGradientKernel(Job.Model);
        kernel.SetData(_plan.Data.Features, _plan.Data.Labels);
        await new StepComputation(_plan, kernel, Job.Mode.CreatePushPolicy(_plan, 0), new OneRunHook(), client, new WorkerReport(0, "twin"), Log.Logger)
            .RunAsync(0, start, CancellationToken.None, CancellationToken.None);
        return twin.Parameters();
    }

    [Fact]
    public async Task Each_piece_leaves_once_its_block_is_computed_and_before_the_last_block_and_the_step_gives_the_whole_gradient_s_model()
    {
        var start = await PullAsync(0);
        var expected = await AfterOneWholeStepAsync(start);
        var step = Step(_client, _kernel);
        Assert.Null(step.WavefrontRefusal());
        var violations = new List<string>();
        _kernel.BeforeBlock = (keyStart, last) =>
        {
            // Nothing pushed yet may reach past the blocks computed so far; and the last block waits for a piece to have
            // left, which only a push overlapping the compute can give.
            violations.AddRange(PushedPieces().Where(p => p.End > keyStart).Select(p => $"piece {p} pushed before block {keyStart} was computed"));
            if (last) Assert.True(SpinWait.SpinUntil(() => PushedPieces().Length > 0, TimeSpan.FromSeconds(30)), "no piece left before the last block was computed");
        };

        await Task.Run(() => step.RunAsync(0, start, CancellationToken.None, CancellationToken.None));

        Assert.Empty(violations);
        Assert.Equal(_client.PushPieces!.Count, _kernel.Blocks);
        Assert.Equal(0, _kernel.Added);   // no whole gradient computed
        Assert.Equal(_client.PushPieces, PushedPieces().OrderBy(p => p.Offset));   // every piece once
        Assert.Equal(expected, _cluster.Parameters());
        Assert.Equal(1, _report.Steps);
        Assert.Equal(Job.Model.ParameterCount * sizeof(float), _report.BytesPushed);
    }

    [Fact]
    public async Task A_step_cancelled_mid_wavefront_sends_no_piece_past_its_compute_and_leaves_nothing_behind()
    {
        var start = await PullAsync(0);
        var expected = await AfterOneWholeStepAsync(start);
        var step = Step(_client, _kernel);
        using var closed = new CancellationTokenSource();
        int cancelAt = _client.PushPieces![3].Offset;
        long computedWhenCancelled = 0;
        _kernel.BeforeBlock = (keyStart, _) =>
        {
            if (keyStart != cancelAt) return;
            computedWhenCancelled = keyStart;
            Assert.True(SpinWait.SpinUntil(() => PushedPieces().Length > 0, TimeSpan.FromSeconds(30)), "no piece left before the fourth block");
            closed.Cancel();   // the step closes without this worker while its fourth block computes
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => step.RunAsync(0, start, closed.Token, CancellationToken.None)));

        Assert.NotEmpty(PushedPieces());
        Assert.All(PushedPieces(), p => Assert.True(p.End <= computedWhenCancelled + _client.PushPieces[3].Length, $"piece {p} sent past the compute"));
        Assert.Equal(0, _report.Steps);
        Assert.All(_cluster.Fakes, f => Assert.Equal(0, f.PushesInFlight));

        // Nothing left behind: the same step run again sends the rest (the ranges already in answer Duplicate) and closes
        // with the model of one whole step.
        _kernel.BeforeBlock = null;
        await step.RunAsync(0, start, CancellationToken.None, CancellationToken.None);
        Assert.Equal(expected, _cluster.Parameters());
        Assert.Equal(1, _cluster.Status().Step);
    }

    [Fact]
    public async Task A_gradient_beyond_the_limits_is_refused_before_any_piece_leaves()
    {
        var parameters = await PullAsync(0);
        parameters[30] = float.PositiveInfinity;   // a weight of W2: every row's loss and deltas are not finite
        var step = Step(_client, _kernel);

        var refused = await Assert.ThrowsAsync<ShardException>(() => step.RunAsync(0, parameters, CancellationToken.None, CancellationToken.None));

        Assert.Equal(ShardErrorKind.InvalidRequest, refused.Kind);
        Assert.Contains("NaN or Inf", refused.Message);
        Assert.Empty(PushedPieces());
        Assert.Equal(_client.PushPieces!.Count, _kernel.Blocks);   // every block computed, then the whole push checked
    }

    [Fact]
    public void The_wavefront_says_why_it_does_not_apply()
    {
        using var softmax = _cluster.Backend.CreateGradientKernel(new ModelShape(Kernels.ModelKind.Softmax, 6, 3));
        Assert.Contains("not computed in blocks", Step(_client, softmax).WavefrontRefusal());
        Assert.Contains("bfloat16", new StepComputation(_plan, _kernel, Job.Mode.CreatePushPolicy(_plan, 0), new OneRunHook(), _client, _report, Log.Logger,
            TensorEncoding.BFloat16, wavefront: true).WavefrontRefusal(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_push_in_lockstep_runs_at_most_its_ranges_ahead_of_the_last_range_its_pull_received()
    {
        using var cluster = new InProcessCluster(Job with { Workers = 2 }, shards: 1, learningRate: 0.5f, pieces: true);
        await using var lockstep = cluster.Client(new ShardedClientOptions { RangesAhead = 2 });
        await using var other = cluster.Client();
        await lockstep.RegisterAsync(new RegisterRequest { RequestedWorkerId = 0 }, CancellationToken.None);
        await other.RegisterAsync(new RegisterRequest { RequestedWorkerId = 1 }, CancellationToken.None);
        var ranges = cluster.Shards[0].ClosingRanges!;
        var shard = cluster.Fakes[0];
        var gradient = Enumerable.Range(0, Job.Model.ParameterCount).Select(v => v / 100f).ToArray();
        int Pushed() => shard.Transfers.Count(t => t.Push);
        async Task OtherPushesAsync(PieceRange range) =>
            await shard.PushAsync(new PushHeader(1, 0, 0, 4, 1.0, Piece: range), gradient.AsMemory(range.Offset, range.Length), CancellationToken.None);

        // Worker 0's prefetch of step 1 is under way, as in the worker loop, while it pushes step 0.
        var next = new float[Job.Model.ParameterCount];
        var prefetch = lockstep.PullAsync(1, next, CancellationToken.None, sameStep: true);
        var push = lockstep.PushAsync(new PushHeader(0, 0, 0, 4, 1.0), gradient, CancellationToken.None);

        // Ranges 0 and 1 go; range 2 waits until range 0 closed, which needs worker 1's piece of it.
        Assert.True(SpinWait.SpinUntil(() => Pushed() == 2, TimeSpan.FromSeconds(30)));
        await Task.Delay(200);
        Assert.Equal(2, Pushed());
        await OtherPushesAsync(ranges[0]);
        Assert.True(SpinWait.SpinUntil(() => Pushed() == 4, TimeSpan.FromSeconds(30)), $"{Pushed()} pushes");   // worker 1's, then worker 0's range 2
        await Task.Delay(200);
        Assert.Equal(4, Pushed());   // range 3 waits for range 1
        foreach (var range in ranges.Skip(1)) await OtherPushesAsync(range);

        await push.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, (await prefetch.WaitAsync(TimeSpan.FromSeconds(30))).Step);
        Assert.Equal(2 * ranges.Count, Pushed());
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        _kernel.Dispose();
        _cluster.Dispose();
    }

    /// <summary>The SIMD kernel, calling <see cref="BeforeBlock"/> (key start, whether it is the last block) before each block and counting blocks and whole gradients.</summary>
    private sealed class GatedKernel(IGradientKernel inner) : IGradientKernel
    {
        public Action<int, bool>? BeforeBlock;
        public int Blocks, Added;
        public ModelShape Shape => inner.Shape;
        public int Rows => inner.Rows;
        public void SetData(ReadOnlySpan<float> features, ReadOnlySpan<int> labels) => inner.SetData(features, labels);
        public void LoadParameters(ReadOnlySpan<float> parameters) => inner.LoadParameters(parameters);
        public double AddGradient(int start, int count, float scale = 1f) { Added++; return inner.AddGradient(start, count, scale); }
        public double ComputeAndDiscardGradient(int start, int count) => inner.ComputeAndDiscardGradient(start, count);
        public void ReadGradient(Span<float> gradient) => inner.ReadGradient(gradient);
        public EvaluationResult Evaluate(int start, int count) => inner.Evaluate(start, count);
        public bool ComputesBlocks => inner.ComputesBlocks;
        public BlockRows AddBlockRows(int start, int count) => inner.AddBlockRows(start, count);
        public void ReadGradientBlock(int keyStart, Span<float> destination, float scale)
        {
            BeforeBlock?.Invoke(keyStart, keyStart + destination.Length == Shape.ParameterCount);
            Blocks++;
            inner.ReadGradientBlock(keyStart, destination, scale);
        }
        public void Dispose() => inner.Dispose();
    }
}
