using GpuPs.Core.Shards;

namespace GpuPs.Protocol;

/// <summary>
/// The compressed encodings (<see cref="TensorEncoding.Sparse"/>, <see cref="TensorEncoding.Sign"/>) behind one switch,
/// for the transports: their size, encoder and validating decoder. A compressed message carries its bytes and the
/// count of values they stand for.
/// </summary>
public static class TensorCodec
{
    /// <summary>Whether <paramref name="encoding"/> is one of the compressed encodings.</summary>
    public static bool IsCompressed(TensorEncoding encoding) => encoding is TensorEncoding.Sparse or TensorEncoding.Sign;

    /// <summary>Bytes <paramref name="values"/> take on the wire in <paramref name="encoding"/>.</summary>
    public static int EncodedBytes(TensorEncoding encoding, ReadOnlySpan<float> values) => encoding switch
    {
        TensorEncoding.Sparse => SparseCodec.EncodedBytes(values),
        TensorEncoding.Sign => SignCodec.EncodedBytes(values.Length),
        TensorEncoding.BFloat16 => checked(values.Length * sizeof(ushort)),
        _ => checked(values.Length * sizeof(float)),
    };

    /// <summary>Encodes <paramref name="values"/> (a compressed encoding) into <paramref name="destination"/>; returns its bytes.</summary>
    /// <exception cref="ArgumentException">Not a compressed encoding, or values the sign encoding cannot carry exactly.</exception>
    public static int Encode(TensorEncoding encoding, ReadOnlySpan<float> values, Span<byte> destination) => encoding switch
    {
        TensorEncoding.Sparse => SparseCodec.Encode(values, destination),
        TensorEncoding.Sign => SignCodec.Encode(values, destination),
        _ => throw new ArgumentException($"{encoding} is not a compressed encoding", nameof(encoding)),
    };

    /// <summary>
    /// Decodes compressed <paramref name="encoded"/> bytes into <paramref name="destination"/> (all the values they stand
    /// for); throws <see cref="ShardException"/> (InvalidRequest) for bytes that are not a valid encoding, writing nothing.
    /// </summary>
    public static void Decode(TensorEncoding encoding, ReadOnlySpan<byte> encoded, Span<float> destination)
    {
        switch (encoding)
        {
            case TensorEncoding.Sparse: SparseCodec.Decode(encoded, destination); break;
            case TensorEncoding.Sign: SignCodec.Decode(encoded, destination); break;
            default: throw new ArgumentException($"{encoding} is not a compressed encoding", nameof(encoding));
        }
    }
}
