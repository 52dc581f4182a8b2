using GpuPs.Core.Modes;
using GpuPs.Protocol;

namespace GpuPs.Core.Compression;

/// <summary>
/// A job's compression: of pushes (on the worker, with error feedback: what a message drops is added to the next one)
/// and of pulls (on the server, which sends each worker the compressed difference between the model and the worker's
/// copy of it, and keeps that copy per worker). Part of the job every process agrees on.
/// </summary>
/// <param name="Push">How workers compress their gradients.</param>
/// <param name="Pull">How the server compresses the parameters a worker pulls (as a delta against the worker's copy).</param>
/// <param name="TopKRatio">Top-k: the share of values each message carries, in (0, 1].</param>
/// <param name="Momentum">
/// Momentum correction of the worker's top-k or sign pushes (DGC): the worker accumulates u = m·u + g and sends from
/// the accumulated u; the values it sent are cleared from u too (momentum factor masking). 0 turns it off; use it with
/// the server's plain sgd, whose momentum it replaces.
/// </param>
/// <param name="FullPullEvery">Compressed pulls: every this many pulls of a worker it gets the exact parameters (at least 1).</param>
public sealed record CompressionSettings(
    CompressionKind Push = CompressionKind.None,
    CompressionKind Pull = CompressionKind.None,
    double TopKRatio = 0.01,
    double Momentum = 0,
    int FullPullEvery = CompressionSettings.DefaultFullPullEvery)
{
    /// <summary>
    /// Compressed pulls carry the exact parameters every this many pulls of a worker, by default: 50. The server keeps
    /// each worker's copy exactly, so a full pull only catches up values smaller than every top-k delta; at 1 % top-k and
    /// 8 workers a full pull every 20 was 70 % of the bytes on a 100 Mbit/s link (docs/benchmarks.md).
    /// </summary>
    public const int DefaultFullPullEvery = 50;

    /// <summary>No compression either way.</summary>
    public static readonly CompressionSettings None = new();

    /// <summary>Whether anything is compressed.</summary>
    public bool Any => Push != CompressionKind.None || Pull != CompressionKind.None;

    /// <summary>Throws <see cref="ArgumentException"/> with one readable line when these settings cannot run in <paramref name="mode"/>.</summary>
    public void Validate(ISyncMode mode, TensorEncoding wireFormat)
    {
        if (Push != CompressionKind.None && !mode.AcceptsRoundedPushes)
            throw new ArgumentException($"--compression {CompressionKinds.Name(Push)} would break the exact decode of the {mode.Name} mode " +
                "(a residual kept back is not in the coded sums the decode weights combine); compress the pulls instead, which happen after decoding: --pull-compression " + CompressionKinds.Name(Push));
        if (Push != CompressionKind.None && wireFormat != TensorEncoding.Float32)
            throw new ArgumentException($"--compression {CompressionKinds.Name(Push)} sends its own encoding; leave --wire-format at f32");
        if (!(TopKRatio > 0 && TopKRatio <= 1))
            throw new ArgumentException($"--topk-ratio must be in (0, 1] (got {TopKRatio})");
        if (!(Momentum >= 0 && Momentum < 1))
            throw new ArgumentException($"--momentum-correction must be in [0, 1) (got {Momentum})");
        if (Momentum > 0 && Push == CompressionKind.None)
            throw new ArgumentException("--momentum-correction applies to compressed pushes; set --compression topk or sign");
        if (FullPullEvery < 1)
            throw new ArgumentException($"--full-pull-every must be at least 1 (got {FullPullEvery})");
    }

    /// <summary>Values of <paramref name="length"/> a top-k message carries: ⌈ratio × length⌉, at least one (none of nothing).</summary>
    public int TopK(int length) => length == 0 ? 0 : (int)Math.Clamp(Math.Ceiling(TopKRatio * length), 1, length);
}
