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

    /// <summary>
    /// Sparse (<see cref="SparseCodec"/>): the nonzero values only, as (index, float32 value) pairs, 8 bytes each. What a
    /// top-k compressed message travels as; exact for any tensor.
    /// </summary>
    Sparse,

    /// <summary>
    /// Sign (<see cref="SignCodec"/>): one bit per value and one float32 scale per block of values, every value being
    /// ±its block's scale. What a 1-bit compressed message travels as; exact only for a tensor in that form.
    /// </summary>
    Sign,
}
