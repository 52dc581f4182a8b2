using GpuPs.Kernels;
using ILGPU.Runtime;

namespace GpuPs.Kernels.Tests;

/// <summary>
/// <see cref="IMatrixProduct"/> against a plain double-precision product, run once per ILGPU device and product
/// (the CPU accelerator's kernel in CI; on CUDA, cuBLAS and the ILGPU kernel): every transpose combination, padded
/// row strides, alpha and beta, and beta = 0 ignoring NaN in C as BLAS does.
/// </summary>
public abstract class MatrixProductTests(BackendFixture fixture)
{
    private IlgpuBackend Backend => (IlgpuBackend)fixture.Backend;

    public static TheoryData<int, int, int, bool, bool> Shapes => new()
    {
        { 5, 7, 3, false, false },
        { 33, 17, 65, false, true },
        { 17, 33, 129, true, false },
        { 64, 1, 300, true, false },   // a bias gradient: deltaᵀ·1
        { 9, 10, 31, true, true },
    };

    [BackendTheory]
    [MemberData(nameof(Shapes))]
    public void ProductMatchesReference(int m, int n, int k, bool transposeA, bool transposeB)
    {
        const int pad = 3;  // row strides longer than the rows
        int lda = (transposeA ? m : k) + pad, ldb = (transposeB ? k : n) + pad, ldc = n + pad;
        var a = TestData.Vector((transposeA ? k : m) * lda, seed: 1);
        var b = TestData.Vector((transposeB ? n : k) * ldb, seed: 2);
        var c = TestData.Vector(m * ldc, seed: 3);
        var shape = new MatrixProductShape(m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, lda, ldb, ldc, Alpha: 0.5f, Beta: -2f);

        var expected = Reference(shape, a, b, c);
        var actual = Run(shape, a, b, c);

        TestData.AssertClose(expected, actual, 1e-5, "C");
    }

    [BackendFact]
    public void ZeroBetaIgnoresWhatCHeld()
    {
        var shape = MatrixProductShape.TimesTransposed(6, 4, 5, alpha: 2f);
        var a = TestData.Vector(6 * 5, seed: 4);
        var b = TestData.Vector(4 * 5, seed: 5);
        var c = Enumerable.Repeat(float.NaN, 6 * 4).ToArray();

        var actual = Run(shape, a, b, c);

        TestData.AssertClose(Reference(shape, a, b, new float[c.Length]), actual, 1e-5, "C");
    }

    [BackendFact]
    public void ProductsRunInOrderWithKernelsOnTheSameStream()
    {
        // C = A·B, then C = A·B + C: the second product must see the first one's result.
        var shape = MatrixProductShape.Plain(40, 30, 20);
        var a = TestData.Vector(40 * 20, seed: 6);
        var b = TestData.Vector(20 * 30, seed: 7);
        var backend = Backend;
        lock (backend.DeviceLock)
        {
            backend.Accelerator.Bind();
            using var da = backend.Accelerator.Allocate1D(a);
            using var db = backend.Accelerator.Allocate1D(b);
            using var dc = backend.Accelerator.Allocate1D<float>(40 * 30);
            backend.MatrixProduct.Multiply(shape, da.View, db.View, dc.View);
            backend.MatrixProduct.Multiply(shape with { Beta = 1 }, da.View, db.View, dc.View);
            var twice = dc.GetAsArray1D();
            var once = Reference(shape, a, b, new float[40 * 30]);
            TestData.AssertClose(once.Select(v => 2 * v).ToArray(), twice, 1e-5, "C");
        }
    }

    private float[] Run(MatrixProductShape shape, float[] a, float[] b, float[] c)
    {
        var backend = Backend;
        lock (backend.DeviceLock)
        {
            backend.Accelerator.Bind();
            using var da = backend.Accelerator.Allocate1D(a);
            using var db = backend.Accelerator.Allocate1D(b);
            using var dc = backend.Accelerator.Allocate1D(c);
            backend.MatrixProduct.Multiply(shape, da.View, db.View, dc.View);
            return dc.GetAsArray1D();
        }
    }

    /// <summary>The product in double, leaving C's padding untouched.</summary>
    private static double[] Reference(MatrixProductShape s, float[] a, float[] b, float[] c)
    {
        var result = c.Select(v => (double)v).ToArray();
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
            {
                double sum = 0;
                for (int k = 0; k < s.K; k++)
                {
                    double x = s.TransposeA != 0 ? a[k * s.Lda + i] : a[i * s.Lda + k];
                    double y = s.TransposeB != 0 ? b[j * s.Ldb + k] : b[k * s.Ldb + j];
                    sum += x * y;
                }
                int index = i * s.Ldc + j;
                result[index] = s.Alpha * sum + (s.Beta != 0 ? s.Beta * c[index] : 0);
            }
        }
        return result;
    }
}

public sealed class IlgpuCpuMatrixProductTests(IlgpuCpuBackendFixture fixture) : MatrixProductTests(fixture), IClassFixture<IlgpuCpuBackendFixture>;

/// <summary>cuBLAS, where it loads (the test of the row-major to column-major mapping).</summary>
[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaMatrixProductTests(CudaBackendFixture fixture) : MatrixProductTests(fixture), IClassFixture<CudaBackendFixture>
{
    [BackendFact]
    public void CudaUsesCuBlas() => Assert.IsType<CuBlasMatrixProduct>(((IlgpuBackend)fixture.Backend).MatrixProduct);
}

[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaIlgpuMatrixProductTests(CudaIlgpuProductsBackendFixture fixture) : MatrixProductTests(fixture), IClassFixture<CudaIlgpuProductsBackendFixture>;

/// <summary>The whole gradient suite on CUDA with the ILGPU matrix-product kernel instead of cuBLAS.</summary>
[RequiresAccelerator(AcceleratorChoice.Cuda)]
public sealed class CudaIlgpuProductsGradientKernelTests(CudaIlgpuProductsBackendFixture fixture)
    : GradientKernelTests(fixture), IClassFixture<CudaIlgpuProductsBackendFixture>;
