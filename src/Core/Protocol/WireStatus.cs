using System.Globalization;
using GpuPs.Core.Shards;
using Grpc.Core;

namespace GpuPs.Protocol;

/// <summary>
/// The one mapping between domain answers and gRPC status codes, used by the service (domain → wire) and by the client
/// (wire → domain). Nothing else in GpuPs names a status code.
/// </summary>
/// <remarks>
/// A push the mode's rule refuses travels as FAILED_PRECONDITION (ALREADY_EXISTS for a duplicate) with the message, as
/// any gRPC client expects, plus two trailers that carry the exact <see cref="PushOutcomeKind"/> and the shard's step,
/// so that a GpuPs client gets back the same <see cref="PushOutcome"/> the shard returned.
/// </remarks>
public static class WireStatus
{
    /// <summary>Trailer naming the <see cref="PushOutcomeKind"/> of a refused push (e.g. <c>Late</c>).</summary>
    public const string OutcomeTrailer = "gpups-push-outcome";

    /// <summary>Trailer with the shard's step when it refused a push.</summary>
    public const string StepTrailer = "gpups-step";

    /// <summary>
    /// Trailer of a RESOURCE_EXHAUSTED that only says the server is busy (its in-flight push memory is taken), so that a
    /// GpuPs client retries later (<see cref="ShardErrorKind.Unavailable"/>) instead of taking it for a full job.
    /// </summary>
    public const string BusyTrailer = "gpups-busy";

    /// <summary>Server side: a call refused because the server is busy for now, as RESOURCE_EXHAUSTED with <see cref="BusyTrailer"/>.</summary>
    public static RpcException Busy(string reason) => new(new Status(StatusCode.ResourceExhausted, reason), new Metadata { { BusyTrailer, "1" } });

    /// <summary>The status code of a call the shard fails with a <paramref name="kind"/> error.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined kind.</exception>
    public static StatusCode CodeOf(ShardErrorKind kind) => kind switch
    {
        ShardErrorKind.InvalidRequest => StatusCode.InvalidArgument,
        ShardErrorKind.UnknownWorker => StatusCode.NotFound,
        ShardErrorKind.JobFull => StatusCode.ResourceExhausted,
        ShardErrorKind.SlotTaken => StatusCode.PermissionDenied,
        ShardErrorKind.Unavailable => StatusCode.Unavailable,
        ShardErrorKind.Timeout => StatusCode.DeadlineExceeded,
        ShardErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Server side: a domain error as the status the call ends with.</summary>
    public static RpcException ToRpc(ShardException e) => new(new Status(CodeOf(e.Kind), e.Message));

    /// <summary>Server side: a push that was not applied, as the status (and trailers) the call ends with.</summary>
    public static RpcException ToRpc(in PushOutcome outcome)
    {
        if (outcome.IsApplied) throw new ArgumentException("an applied push is a reply, not a status", nameof(outcome));
        var code = outcome.Kind == PushOutcomeKind.Duplicate ? StatusCode.AlreadyExists : StatusCode.FailedPrecondition;
        var trailers = new Metadata
        {
            { OutcomeTrailer, outcome.Kind.ToString() },
            { StepTrailer, outcome.Step.ToString(CultureInfo.InvariantCulture) },
        };
        return new RpcException(new Status(code, outcome.Reason), trailers);
    }

    /// <summary>Client side: the refused push a status describes, or null when the status is not a push refusal.</summary>
    public static PushOutcome? OutcomeOf(RpcException e)
    {
        if (e.StatusCode is not (StatusCode.FailedPrecondition or StatusCode.AlreadyExists)) return null;
        var kind = Enum.TryParse<PushOutcomeKind>(e.Trailers.GetValue(OutcomeTrailer), out var k) && k != PushOutcomeKind.Applied
            ? k
            : e.StatusCode == StatusCode.AlreadyExists ? PushOutcomeKind.Duplicate : PushOutcomeKind.Refused;
        long step = long.TryParse(e.Trailers.GetValue(StepTrailer), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : -1;
        return new PushOutcome(kind, step, JobFinished: kind == PushOutcomeKind.Finished, Reason: e.Status.Detail);
    }

    /// <summary>
    /// Client side: a failed call as a domain exception: <see cref="OperationCanceledException"/> when cancelled, else a
    /// <see cref="ShardException"/> whose kind says whether a retry can help.
    /// </summary>
    public static Exception FromRpc(RpcException e, string address, CancellationToken cancellationToken)
    {
        var detail = $"{address}: {e.Status.Detail}";
        return e.StatusCode switch
        {
            StatusCode.Cancelled => new OperationCanceledException($"call to {detail} was cancelled", e, cancellationToken),
            StatusCode.DeadlineExceeded => new ShardException(ShardErrorKind.Timeout, $"deadline passed: {detail}", e),
            StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted =>
                new ShardException(ShardErrorKind.Unavailable, $"{e.StatusCode}: {detail}", e),
            StatusCode.NotFound => new ShardException(ShardErrorKind.UnknownWorker, detail, e),
            StatusCode.ResourceExhausted when e.Trailers.Get(BusyTrailer) is not null =>
                new ShardException(ShardErrorKind.Unavailable, $"server busy: {detail}", e),
            StatusCode.ResourceExhausted => new ShardException(ShardErrorKind.JobFull, detail, e),
            StatusCode.PermissionDenied => new ShardException(ShardErrorKind.SlotTaken, detail, e),
            StatusCode.Unauthenticated => new ShardException(ShardErrorKind.Unauthenticated, detail, e),
            _ => new ShardException(ShardErrorKind.InvalidRequest, $"{e.StatusCode}: {detail}", e),
        };
    }
}
