using System.IO.Hashing;
using System.Runtime.InteropServices;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;

namespace GpuPs.Server.DataPlane;

/// <summary>
/// The whole-shard pulls of one data plane that wait for a step (a fused push's pull, a prefetching pull), so that the
/// connection whose push closes the step answers them all at once from its own thread, with one copy of the parameters
/// in one checksummed frame: no per-waiter copy or hash, and no hop to a pool thread per waiter before its worker gets
/// the step. Thread-safe; one per <see cref="DataPlaneListener"/>.
/// </summary>
/// <remarks>
/// <para>Only for shards whose pulls are shared (<see cref="IParameterShard.SharedStepPulls"/>: every worker's pull of a
/// step gets the same values once the step is reached) and frames of at most <see cref="MaxFrameBytes"/>.</para>
/// <para>A parked pull stays its connection's: the connection still waits for the step as before, and whichever comes
/// first — the closing push's <see cref="AnswerReady"/> or the connection itself (the step closed otherwise: an eviction,
/// the job's end; its deadline; its peer left) — claims it (<see cref="AnsweredAsync"/>), so it is answered once.</para>
/// <para>On 2 cores with 8 workers a step's pulls were answered by 8 pool-thread continuations, each re-taking the
/// shard's lock to copy and hash the parameters before its write; the closing thread now writes the same frame 8 times.</para>
/// </remarks>
public sealed class ParkedPulls(IParameterShard shard)
{
    /// <summary>
    /// Frames up to 16 KiB: the initial size of a TCP send buffer on Linux (<c>tcp_wmem</c>), so a write to a peer that
    /// waits for its answer completes at once and never holds the closing thread. Larger shards answer their own pulls.
    /// </summary>
    public const int MaxFrameBytes = 16 << 10;

    private readonly object _gate = new();        // the list
    private readonly object _answering = new();   // a closer's answers
    private readonly List<Parked> _parked = [];
    private readonly List<Parked> _ready = [];
    private readonly XxHash3 _hash = new();
    private readonly int _frameBytes = FrameHeader.Size + checked((int)shard.Info.Length * sizeof(float));
    private byte[]? _frame;     // the step's PullReply
    private byte[]? _scratch;   // one waiter's held push reply, then the PullReply: one write

    /// <summary>Whether this shard's pulls wait here (see the remarks).</summary>
    public bool Enabled { get; } = shard.SharedStepPulls && FrameHeader.Size + shard.Info.Length * sizeof(float) <= MaxFrameBytes;

    /// <summary>
    /// Parks a whole-shard pull of step <paramref name="minStep"/> whose answer goes to <paramref name="output"/> (the
    /// connection's stream, written only by its owner otherwise), after <paramref name="held"/> when a fused push's
    /// reply waits for it; null when this plane does not park pulls.
    /// </summary>
    public Parked? Park(Stream output, long minStep, HeldPushReply? held)
    {
        if (!Enabled) return null;
        var parked = new Parked(output, minStep, held);
        lock (_gate) _parked.Add(parked);
        return parked;
    }

    /// <summary>
    /// Answers every parked pull whose step the shard has reached (or all once the job finished) with one copy of the
    /// parameters; called by the connection whose push closed a step, right after the push.
    /// </summary>
    public void AnswerReady()
    {
        if (!Enabled) return;
        // One closer at a time owns the frame, the scratch buffer and the hash; the writes happen outside _gate, so a
        // connection parking its pull meanwhile does not wait for them.
        lock (_answering)
        {
            lock (_gate)
                if (_parked.Count == 0) return;
            _frame ??= new byte[_frameBytes];
            var payload = _frame.AsSpan(FrameHeader.Size);
            var pulled = shard.CopyParameters(MemoryMarshal.Cast<byte, float>(payload));
            var header = FrameAnswers.PullReplyFrame(pulled, payload.Length);
            header.Seal(_hash, payload);
            header.WriteTo(_frame);
            lock (_gate)
            {
                for (int i = _parked.Count - 1; i >= 0; i--)
                {
                    if (_parked[i].MinStep > pulled.Step && !pulled.Finished) continue;
                    _ready.Add(_parked[i]);
                    _parked.RemoveAt(i);
                }
            }
            _scratch ??= new byte[HeldPushReply.MaxBytes + _frameBytes];
            foreach (var parked in _ready) Answer(parked, _frame, _scratch, _hash);
            _ready.Clear();
        }
    }

    /// <summary>
    /// Claims <paramref name="parked"/> for its connection, which then answers it as before (false), or, when the closing
    /// push answered it first, waits until that write is done (true).
    /// </summary>
    /// <exception cref="IOException">The closing push's write of the answer failed: the stream is no longer whole.</exception>
    public async ValueTask<bool> AnsweredAsync(Parked parked)
    {
        // A claimed pull stays listed until its step comes (or its plane goes): claiming takes no lock.
        if (Interlocked.CompareExchange(ref parked.State, Parked.Owner, Parked.Waiting) == Parked.Waiting) return false;
        if (await parked.Written.Task.ConfigureAwait(false) is { } failure)
            throw new IOException($"the answer to a pull of step {parked.MinStep} could not be written: {failure.Message}", failure);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="frame"/> to a parked pull, after its held push reply, in one write through
    /// <paramref name="scratch"/>, unless its connection claimed it first.
    /// </summary>
    private static void Answer(Parked parked, ReadOnlySpan<byte> frame, byte[] scratch, XxHash3 hash)
    {
        if (Interlocked.CompareExchange(ref parked.State, Parked.Closer, Parked.Waiting) != Parked.Waiting) return;
        Exception? failure = null;
        int held = parked.Held?.WriteTo(scratch, hash) ?? 0;
        frame.CopyTo(scratch.AsSpan(held));
        try { parked.Output.Write(scratch, 0, held + frame.Length); }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException) { failure = e; }
        parked.Written.SetResult(failure);
    }

    /// <summary>One parked pull: where its answer goes, its step, the push reply that goes before it, and who answers it.</summary>
    public sealed class Parked(Stream output, long minStep, HeldPushReply? held)
    {
        internal const int Waiting = 0, Owner = 1, Closer = 2;
        internal int State;

        /// <summary>The connection's stream.</summary>
        public Stream Output { get; } = output;

        /// <summary>The step the pull waits for.</summary>
        public long MinStep { get; } = minStep;

        /// <summary>A fused push's reply, written just before the parameters.</summary>
        public HeldPushReply? Held { get; } = held;

        /// <summary>Set once the closing push wrote the answer: null, or why the write failed.</summary>
        public TaskCompletionSource<Exception?> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
