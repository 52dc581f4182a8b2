namespace GpuPs.Core.Compression;

/// <summary>How a tensor is compressed before it crosses the network (pushes on the worker, pulls on the server).</summary>
public enum CompressionKind
{
    /// <summary>Not compressed: every value travels (float32, or bfloat16 by the job's wire format).</summary>
    None,

    /// <summary>
    /// Top-k sparsification (Deep Gradient Compression, Lin et al. 2018): only the k = ratio × n values of largest
    /// magnitude travel, as (index, value) pairs; the rest stays behind as a residual and is added to the next message.
    /// </summary>
    TopK,

    /// <summary>
    /// 1-bit sign compression with a scale (EF-signSGD, Karimireddy et al. 2019): one sign bit per value and, per block of
    /// <see cref="Protocol.SignCodec.BlockSize"/> values, the block's mean magnitude; what it drops is the residual.
    /// </summary>
    Sign,
}

/// <summary>Names of <see cref="CompressionKind"/> as users write them: none, topk, sign.</summary>
public static class CompressionKinds
{
    /// <summary>The name of <paramref name="kind"/>.</summary>
    public static string Name(CompressionKind kind) => kind switch
    {
        CompressionKind.TopK => "topk",
        CompressionKind.Sign => "sign",
        _ => "none",
    };

    /// <summary>The kind a user named (case-insensitive; empty is none).</summary>
    /// <exception cref="ArgumentException">Not none, topk or sign.</exception>
    public static CompressionKind Parse(string? name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "" or "none" => CompressionKind.None,
        "topk" or "top-k" => CompressionKind.TopK,
        "sign" or "1bit" or "1-bit" => CompressionKind.Sign,
        _ => throw new ArgumentException($"unknown compression '{name}': use none, topk or sign"),
    };
}
