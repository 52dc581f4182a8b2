using GpuPs.Core.Shards;
using GpuPs.Protocol;
using Grpc.Core;

namespace GpuPs.Core.Tests.Protocol;

/// <summary>
/// <see cref="WireStatus"/>, the one mapping between the shard's answers and gRPC status codes: every error kind and
/// every push refusal comes back on the client as the same domain answer, and whether a retry can help survives the trip.
/// </summary>
public class WireStatusTests
{
    public static TheoryData<ShardErrorKind, StatusCode> Kinds => new()
    {
        { ShardErrorKind.InvalidRequest, StatusCode.InvalidArgument },
        { ShardErrorKind.UnknownWorker, StatusCode.NotFound },
        { ShardErrorKind.JobFull, StatusCode.ResourceExhausted },
        { ShardErrorKind.SlotTaken, StatusCode.PermissionDenied },
        { ShardErrorKind.Unavailable, StatusCode.Unavailable },
        { ShardErrorKind.Timeout, StatusCode.DeadlineExceeded },
        { ShardErrorKind.Unauthenticated, StatusCode.Unauthenticated },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_error_kind_has_its_status_code_and_comes_back_as_itself_with_the_address(ShardErrorKind kind, StatusCode code)
    {
        var rpc = WireStatus.ToRpc(new ShardException(kind, "what went wrong"));
        Assert.Equal(code, rpc.StatusCode);
        Assert.Equal("what went wrong", rpc.Status.Detail);

        var back = Assert.IsType<ShardException>(WireStatus.FromRpc(rpc, "10.0.0.7:5000", CancellationToken.None));
        Assert.Equal(kind, back.Kind);
        Assert.Contains("10.0.0.7:5000: what went wrong", back.Message);
        Assert.Same(rpc, back.InnerException);
        Assert.Equal(kind == ShardErrorKind.Unavailable, back.IsTransient);
    }

    [Fact]
    public void An_undefined_kind_has_no_status_code() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => WireStatus.CodeOf((ShardErrorKind)99));

    [Theory]
    [InlineData(StatusCode.Internal)]
    [InlineData(StatusCode.Unknown)]
    [InlineData(StatusCode.Aborted)]
    public void A_broken_connection_or_server_fault_is_transient(StatusCode code)
    {
        var e = Assert.IsType<ShardException>(WireStatus.FromRpc(new RpcException(new Status(code, "boom")), "s:1", CancellationToken.None));
        Assert.True(e.IsTransient);
        Assert.Contains(code.ToString(), e.Message);
    }

    [Theory]
    [InlineData(StatusCode.OutOfRange)]
    [InlineData(StatusCode.Unimplemented)]
    [InlineData(StatusCode.DataLoss)]
    public void Any_other_status_is_an_invalid_request_naming_its_code(StatusCode code)
    {
        var e = Assert.IsType<ShardException>(WireStatus.FromRpc(new RpcException(new Status(code, "no")), "s:1", CancellationToken.None));
        Assert.Equal(ShardErrorKind.InvalidRequest, e.Kind);
        Assert.Contains($"{code}: s:1: no", e.Message);
    }

    [Fact]
    public void A_cancelled_call_is_a_cancellation_with_the_caller_s_token()
    {
        using var cts = new CancellationTokenSource();
        var e = Assert.IsType<OperationCanceledException>(WireStatus.FromRpc(new RpcException(new Status(StatusCode.Cancelled, "")), "s:1", cts.Token));
        Assert.Equal(cts.Token, e.CancellationToken);
    }

    [Fact]
    public void A_busy_server_is_transient_and_a_full_job_is_not()
    {
        var busy = WireStatus.Busy("push memory taken");
        Assert.Equal(StatusCode.ResourceExhausted, busy.StatusCode);
        var fromBusy = Assert.IsType<ShardException>(WireStatus.FromRpc(busy, "s:1", CancellationToken.None));
        Assert.True(fromBusy.IsTransient);
        Assert.Contains("server busy", fromBusy.Message);

        var full = Assert.IsType<ShardException>(WireStatus.FromRpc(WireStatus.ToRpc(new ShardException(ShardErrorKind.JobFull, "full")), "s:1", CancellationToken.None));
        Assert.Equal(ShardErrorKind.JobFull, full.Kind);
    }

    public static TheoryData<PushOutcome> Refusals => new()
    {
        PushOutcome.Late(7, "closed"),
        PushOutcome.Duplicate(3, "already pushed"),
        PushOutcome.Finished(10, "the job finished"),
        PushOutcome.Refused(0, "still at step 0"),
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_refused_push_comes_back_as_the_same_outcome(PushOutcome outcome)
    {
        var rpc = WireStatus.ToRpc(outcome);
        Assert.Equal(outcome.Kind == PushOutcomeKind.Duplicate ? StatusCode.AlreadyExists : StatusCode.FailedPrecondition, rpc.StatusCode);
        Assert.Equal(outcome, WireStatus.OutcomeOf(rpc));
    }

    [Fact]
    public void An_applied_push_is_not_a_status() =>
        Assert.Throws<ArgumentException>(() => WireStatus.ToRpc(PushOutcome.Applied(1, true, false)));

    [Fact]
    public void A_refusal_from_a_server_without_trailers_is_read_from_its_code()
    {
        var duplicate = WireStatus.OutcomeOf(new RpcException(new Status(StatusCode.AlreadyExists, "dup")));
        var refused = WireStatus.OutcomeOf(new RpcException(new Status(StatusCode.FailedPrecondition, "no"), new Metadata { { WireStatus.OutcomeTrailer, "Applied" } }));
        Assert.Equal(new PushOutcome(PushOutcomeKind.Duplicate, -1, Reason: "dup"), duplicate);
        Assert.Equal(new PushOutcome(PushOutcomeKind.Refused, -1, Reason: "no"), refused);
        Assert.Null(WireStatus.OutcomeOf(new RpcException(new Status(StatusCode.InvalidArgument, "bad"))));
        Assert.Null(WireStatus.OutcomeOf(new RpcException(new Status(StatusCode.Unavailable, "down"))));
    }
}
