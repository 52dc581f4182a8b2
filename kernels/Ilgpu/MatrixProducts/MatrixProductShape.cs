namespace GpuPs.Kernels;

/// <summary>
/// One row-major matrix product <c>C[M×N] = Alpha·op(A)·op(B) + Beta·C</c>, where op(A) is M×K (A stored K×M when
/// <see cref="TransposeA"/>), op(B) is K×N (B stored N×K when <see cref="TransposeB"/>), and <c>Lda</c>, <c>Ldb</c>,
/// <c>Ldc</c> are the row strides in elements. <c>Beta = 0</c> ignores C's old contents (NaN included), as BLAS does.
/// Flags are ints: ILGPU kernel arguments must be blittable, and bool is not. Passed by value to kernels.
/// </summary>
internal readonly record struct MatrixProductShape(int M, int N, int K, int TransposeA, int TransposeB, int Lda, int Ldb, int Ldc, float Alpha, float Beta)
{
    /// <summary><c>C = Alpha·A·Bᵀ + Beta·C</c>: a dense layer's forward pass, A the inputs (rows×K), B the weights (N×K).</summary>
    public static MatrixProductShape TimesTransposed(int m, int n, int k, float alpha = 1, float beta = 0) =>
        new(m, n, k, 0, 1, k, k, n, alpha, beta);

    /// <summary><c>C = Alpha·A·B + Beta·C</c>, A m×k and B k×n, packed.</summary>
    public static MatrixProductShape Plain(int m, int n, int k, float alpha = 1, float beta = 0) =>
        new(m, n, k, 0, 0, k, n, n, alpha, beta);

    /// <summary><c>C = Alpha·Aᵀ·B + Beta·C</c>, A k×m and B k×n (k rows of both), packed: a layer's weight gradient.</summary>
    public static MatrixProductShape TransposedTimes(int m, int n, int k, float alpha = 1, float beta = 0) =>
        new(m, n, k, 1, 0, m, n, n, alpha, beta);
}
