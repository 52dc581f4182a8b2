using GpuPs.Core.Checkpoints;
using GpuPs.Protocol;
using GpuPs.Server.Observers;
using GpuPs.Tests.Shared;
using Serilog;
using Serilog.Events;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// <see cref="ShardCheckpointer"/>, the background writer: which closed steps ask for a checkpoint, what it writes, and
/// that a failing disk costs checkpoints, not training. <see cref="ShardCheckpointer.DisposeAsync"/> drains the queued
/// requests, so "was a checkpoint written" is read after it, never by waiting.
/// </summary>
public sealed class ShardCheckpointerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gpups-checkpointer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(2, 1, false, false)]
    [InlineData(2, 2, false, true)]
    [InlineData(2, 4, false, true)]
    [InlineData(2, 3, true, true)]    // the job's last step, whatever the period
    [InlineData(3, 4, false, false)]
    [InlineData(1, 1, false, true)]
    public async Task A_closed_step_asks_for_a_checkpoint_every_period_and_at_the_end_of_the_job(int every, long step, bool finished, bool written)
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 10));
        var checkpointer = new ShardCheckpointer(new CheckpointStore(_directory, 0, Log.Logger), every, Log.Logger);
        checkpointer.Attach(shard);

        checkpointer.OnStepClosed(new StepClosed(0, step, TimeSpan.Zero, 0, finished));
        await checkpointer.DisposeAsync();

        Assert.Equal(written ? 1 : 0, Directory.GetFiles(_directory).Length);
    }

    [Fact]
    public async Task A_shard_observed_to_the_end_leaves_its_final_state_as_the_latest_checkpoint()
    {
        var job = Job(SyncMode.Bsp, workers: 2, steps: 5);
        var store = new CheckpointStore(_directory, 0, Log.Logger);
        var checkpointer = new ShardCheckpointer(store, every: 2, Log.Logger);
        using var shard = Create(job, Filled(1f), observers: [checkpointer]);
        checkpointer.Attach(shard);
        RegisterAll(shard, 2);
        for (long t = 0; t < 5; t++)
            for (int w = 0; w < 2; w++) shard.Push(new PushHeader(w, t, 0, 1, 0), Filled(0.25f * (t + 1)));
        await checkpointer.DisposeAsync();

        var latest = store.Latest(shard.Checkpoint().JobFingerprint);
        Assert.NotNull(latest);
        Assert.Equal(5, latest.Step);
        Assert.Equal(Parameters(shard), latest.Parameters);
        Assert.Equal([5L, 5L], latest.WorkerClocks);
    }

    [Fact]
    public async Task SaveNow_writes_the_current_state_at_once_and_nothing_before_it_is_attached()
    {
        var store = new CheckpointStore(_directory, 0, Log.Logger);
        var checkpointer = new ShardCheckpointer(store, every: 100, Log.Logger);
        Assert.Null(checkpointer.SaveNow());

        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 10), Filled(2f));
        checkpointer.Attach(shard);
        RegisterAll(shard, 1);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(0.5f));
        string? path = checkpointer.SaveNow();
        await checkpointer.DisposeAsync();

        Assert.Equal(Path.Combine(_directory, "shard-0-step-000000000001.safetensors"), path);
        Assert.Equal(Filled(1.5f), store.Latest(shard.Checkpoint().JobFingerprint)!.Parameters);
    }

    [Fact]
    public async Task A_write_that_fails_is_logged_and_the_writer_goes_on()
    {
        string notADirectory = Path.Combine(_directory, "file");
        File.WriteAllText(notADirectory, "");
        var log = new CapturedLog();
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 10));
        var checkpointer = new ShardCheckpointer(new CheckpointStore(notADirectory, 0, log.Logger), every: 1, log.Logger);
        checkpointer.Attach(shard);

        checkpointer.OnStepClosed(new StepClosed(0, 1, TimeSpan.Zero, 0, false));
        await checkpointer.DisposeAsync();   // would rethrow had the failure escaped the writer

        Assert.Contains(log.Events, e => e.Level == LogEventLevel.Error && e.MessageTemplate.Text.StartsWith("Shard checkpoint to", StringComparison.Ordinal));
    }

    [Fact]
    public void The_period_is_at_least_one_step() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardCheckpointer(new CheckpointStore(_directory, 0, Log.Logger), 0, Log.Logger));
}
