using GpuPs.Core.Shards;
using GpuPs.Core.Training;
using GpuPs.Kernels;
using GpuPs.Protocol;
using Serilog;
using static GpuPs.Server.Tests.ShardFixture;

namespace GpuPs.Server.Tests;

/// <summary>
/// The shard's answers that the worker and the status reader rely on: an observer's pull, the heartbeat reply, the
/// registration step of a retried Register, the byte counter, the Finished task, and the refusals of bad arguments.
/// </summary>
public class ShardRequestTests
{
    [Fact]
    public async Task An_observer_pull_waits_for_the_step_it_asks_for_without_being_a_worker()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 2));
        RegisterAll(shard, 1);
        Assert.True(shard.WaitForStepAsync(ParameterShard.ObserverId, 0, CancellationToken.None).IsCompleted);
        var waiting = shard.WaitForStepAsync(ParameterShard.ObserverId, 1, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        // Once the job finished, any step an observer asks for is answered at once (there will be no step 5).
        Assert.True(shard.WaitForStepAsync(ParameterShard.ObserverId, 5, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Heartbeats_report_the_step_and_the_end_of_the_job_and_Finished_completes_once()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 2));
        RegisterAll(shard, 1);
        Assert.Equal(new HeartbeatReply { Step = 0, Finished = false }, shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 }));
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        Assert.Equal(new HeartbeatReply { Step = 1, Finished = false }, shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 }));
        Assert.False(shard.Finished.IsCompleted);

        shard.Push(new PushHeader(0, 1, 0, 1, 0), Filled(1f));
        Assert.Equal(new HeartbeatReply { Step = 2, Finished = true }, shard.Heartbeat(new HeartbeatRequest { WorkerId = 0 }));
        await shard.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void A_retried_bsp_registration_resumes_at_the_open_step_though_the_worker_already_pushed_it()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5));
        shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "a" });
        shard.Register(new RegisterRequest { RequestedWorkerId = 1, ClientToken = "b" });
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));   // worker 0's clock is 1, the open step still 0

        Assert.Equal(0, shard.Register(new RegisterRequest { RequestedWorkerId = 0, ClientToken = "a" }).Step);
    }

    [Fact]
    public void The_byte_counter_counts_the_floats_of_applied_pushes_only()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5));
        RegisterAll(shard, 2);
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));
        shard.Push(new PushHeader(0, 0, 0, 1, 0), Filled(1f));   // duplicate
        shard.Push(new PushHeader(1, 0, 0, 1, 0), Filled(1f));
        Assert.Equal(2 * Length * sizeof(float), shard.Status().BytesReceived);
    }

    [Fact]
    public void Bad_arguments_are_refused_by_name()
    {
        var job = Job(SyncMode.Bsp, workers: 1, steps: 5);
        var simd = Accelerators.Create(AcceleratorChoice.Simd);
        var sgd = new OptimizerSettings(OptimizerKind.Sgd, 1f);
        Assert.Contains("shard index 2 is out of range 0..1", Assert.Throws<ArgumentException>(() => ParameterShard.Create(job, sgd, 2, 2, simd, Log.Logger)).Message);
        Assert.Contains("shard index -1", Assert.Throws<ArgumentException>(() => ParameterShard.Create(job, sgd, -1, 2, simd, Log.Logger)).Message);
        using (var last = ParameterShard.Create(job, sgd, 1, 2, simd, Log.Logger)) Assert.Equal(1, last.Info.Index);
        using (var first = ParameterShard.Create(job, sgd, 0, 2, simd, Log.Logger)) Assert.Equal((0, 0L), (first.Info.Index, first.Info.Offset));
        // The job itself is checked before anything is built from it.
        Assert.Contains("staleness must be >= 0", Assert.Throws<ArgumentException>(() => Create(job with { Staleness = -1 })).Message);
        Assert.Contains("initial values have 3", Assert.Throws<ArgumentException>(() => Create(job, initial: new float[3])).Message);

        using var shard = Create(job);
        AssertError(ShardErrorKind.InvalidRequest, "pull destination has 3 floats, shard 0 has 8", () => shard.CopyParameters(new float[3]));
        AssertError(ShardErrorKind.InvalidRequest, "ids 0..0", () => shard.Register(new RegisterRequest { RequestedWorkerId = 1 }));
        AssertError(ShardErrorKind.InvalidRequest, "ids 0..0", () => shard.Heartbeat(new HeartbeatRequest { WorkerId = 1 }));
        Assert.Contains("4 worker clocks", Assert.Throws<ArgumentException>(() =>
            Create(job, resume: shard.Checkpoint() with { WorkerClocks = new long[4] })).Message);
    }

    public static TheoryData<string> RegisterTexts => ["host", "device", "client token"];

    [Theory]
    [MemberData(nameof(RegisterTexts))]
    public void A_registration_text_that_is_overlong_or_has_a_control_character_is_refused_by_name_and_takes_no_slot(string field)
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5));
        RegisterRequest With(string value) => field switch
        {
            "host" => new() { RequestedWorkerId = -1, Host = value },
            "device" => new() { RequestedWorkerId = -1, Device = value },
            _ => new() { RequestedWorkerId = -1, ClientToken = value },
        };

        AssertError(ShardErrorKind.InvalidRequest, $"registration's {field} has 513 characters; at most 512", () => shard.Register(With(new string('h', 513))));
        foreach (var forged in new[] { "node\n[08:00:00 INF] server forged line", "a\rb", "tab\there", "esc\u001b[31m", "del\u007f" })
            AssertError(ShardErrorKind.InvalidRequest, $"registration's {field} contains a control character", () => shard.Register(With(forged)));
        Assert.Equal(0, shard.Status().RegisteredWorkers);

        Assert.Equal(0, shard.Register(With(new string('h', 512))).WorkerId);   // the limit itself, and any printable text
        Assert.Equal(1, shard.Register(With("gpu-node-7 (NVIDIA H100 80GB HBM3, CUDA) ü")).WorkerId);
    }

    [Fact]
    public void Heartbeats_of_a_job_with_uniform_shares_carry_no_assignment_whatever_speeds_they_report()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 3, steps: 5));
        RegisterAll(shard, 3);

        shard.Heartbeat(new HeartbeatRequest { WorkerId = 0, RowsPerSecond = 100, ExchangeSeconds = 0.002 });
        shard.Heartbeat(new HeartbeatRequest { WorkerId = 1, RowsPerSecond = 200 });
        var last = shard.Heartbeat(new HeartbeatRequest { WorkerId = 2, RowsPerSecond = 400 });

        Assert.Null(last.Assignment);
        var status = shard.Status();
        Assert.Null(status.Assignment);
        Assert.Empty(status.AssignmentFromSteps);
        Assert.All(status.Workers, w => Assert.Equal((0.0, 0.0), (w.RowsPerSecond, w.ExchangeSeconds)));
    }

    [Fact]
    public void A_round_robin_plan_of_a_bfloat16_job_takes_a_pull_for_twice_a_push()
    {
        // Pushes travel as bfloat16, pulls as float32: the coordinator plans each pull at twice the push time reported.
        PushSlot SlotAfterReports(TensorEncoding wire)
        {
            using var shard = Create(Job(SyncMode.Bsp, workers: 2, steps: 5) with { Schedule = PushSchedule.RoundRobin, WireFormat = wire });
            RegisterAll(shard, 2);
            return shard.Heartbeat(new HeartbeatRequest { WorkerId = 0, ComputeSeconds = 1, PushSeconds = 0.1 }).PushSlot;
        }

        var float32 = SlotAfterReports(TensorEncoding.Float32);
        var bfloat16 = SlotAfterReports(TensorEncoding.BFloat16);

        Assert.Equal(1, bfloat16.Version);
        Assert.Equal(0.1, bfloat16.PushAtSeconds - float32.PushAtSeconds, 1e-9);   // the pull before it: 0.2 s, not 0.1 s
    }

    [Fact]
    public void An_admission_refused_or_malformed_on_the_first_chunk_counts_as_a_rejected_push()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 5));
        RegisterAll(shard, 1);

        Assert.True(shard.Admit(new PushHeader(0, 0, 0, 1, 0)).IsApplied);
        Assert.Equal(0, shard.Status().PushesRejected);
        Assert.Equal(PushOutcomeKind.Refused, shard.Admit(new PushHeader(0, 3, 0, 1, 0)).Kind);   // a step not open yet
        Assert.Equal(1, shard.Status().PushesRejected);
        AssertError(ShardErrorKind.InvalidRequest, "sample count", () => shard.Admit(new PushHeader(0, 0, 0, 0, 0)));
        Assert.Equal(2, shard.Status().PushesRejected);
    }

    [Fact]
    public void A_piece_push_must_lie_within_the_shard_and_carry_exactly_its_piece_s_values()
    {
        using var shard = Create(Job(SyncMode.Bsp, workers: 1, steps: 5) with { PieceFloats = 4 });
        RegisterAll(shard, 1);
        var piece = shard.ClosingRanges![0];

        AssertError(ShardErrorKind.InvalidRequest, $"piece {piece} carries 3 values", () => shard.Push(new PushHeader(0, 0, 0, 1, 0, Piece: piece), new float[3]));
        AssertError(ShardErrorKind.InvalidRequest, "is not a non-empty range of the shard's 8 parameters",
            () => shard.Push(new PushHeader(0, 0, 0, 1, 0, Piece: new PieceRange(4, Length)), new float[Length]));
        Assert.Equal((0L, 0L, 2L), (shard.Status().Step, shard.Status().PushesApplied, shard.Status().PushesRejected));
    }
}
