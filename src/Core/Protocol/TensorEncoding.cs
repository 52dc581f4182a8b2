namespace GpuPs.Protocol;

/// <summary>How a pushed tensor's values travel.</summary>
public enum TensorEncoding
{
    /// <summary>IEEE float32, 4 bytes a value: exact.</summary>
    Float32,

    /// <summary>
    /// bfloat16, 2 bytes a value (the upper half of a float32: same range, 8 bits of mantissa), rounded to nearest even.
    /// Half the bytes; a worker keeps what rounding dropped and adds it to its next push (error feedback).
    /// </summary>
    BFloat16,
}
