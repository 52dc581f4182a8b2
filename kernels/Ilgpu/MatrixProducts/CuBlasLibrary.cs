using System.Runtime.InteropServices;

namespace GpuPs.Kernels;

/// <summary>
/// The few cuBLAS entry points GpuPs calls, bound at run time from whichever cuBLAS major version the machine has
/// (13, 12, 11). ILGPU.Algorithms 1.5.3 ships cuBLAS bindings too, but only for libcublas.so.10–12; the GPU image
/// here has CUDA 13 (libcublas.so.13), and the v2 entry points below are the same in all three.
/// Thread-safe (immutable after loading); the library stays loaded for the process.
/// </summary>
internal sealed unsafe class CuBlasLibrary
{
    private static readonly string[] Names = OperatingSystem.IsWindows()
        ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
        : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];

    private static readonly Lazy<(CuBlasLibrary? Library, string Reason)> Loaded = new(Load);

    private CuBlasLibrary(nint library, string name)
    {
        FileName = name;
        Create = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(library, "cublasCreate_v2");
        Destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cublasDestroy_v2");
        SetStream = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(library, "cublasSetStream_v2");
        GetVersion = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "cublasGetVersion_v2");
        Sgemm = (delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, nint, int, float*, nint, int, int>)
            NativeLibrary.GetExport(library, "cublasSgemm_v2");
    }

    /// <summary>The library file that was loaded, e.g. libcublas.so.13.</summary>
    public string FileName { get; }

    /// <summary><c>cublasCreate_v2(cublasHandle_t*)</c>: needs the CUDA context current on the calling thread.</summary>
    public delegate* unmanaged<nint*, int> Create { get; }
    /// <summary><c>cublasDestroy_v2(handle)</c>.</summary>
    public delegate* unmanaged<nint, int> Destroy { get; }
    /// <summary><c>cublasSetStream_v2(handle, stream)</c>.</summary>
    public delegate* unmanaged<nint, nint, int> SetStream { get; }
    /// <summary><c>cublasGetVersion_v2(handle, int*)</c>: e.g. 130100 for 13.1.0.</summary>
    public delegate* unmanaged<nint, int*, int> GetVersion { get; }
    /// <summary><c>cublasSgemm_v2(handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc)</c>, column-major.</summary>
    public delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, nint, int, float*, nint, int, int> Sgemm { get; }

    /// <summary>The process's cuBLAS, or null with the reason (no library, or one without the v2 entry points).</summary>
    public static CuBlasLibrary? TryGet(out string reason)
    {
        (var library, reason) = Loaded.Value;
        return library;
    }

    /// <summary>Throws with the call's name and cuBLAS status when <paramref name="status"/> is not CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"cuBLAS {call} failed with status {status} ({StatusName(status)})");
    }

    /// <summary>cublasStatus_t's names for the codes cuBLAS returns.</summary>
    private static string StatusName(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED: no CUDA context, or the driver is too old for this cuBLAS",
        3 => "CUBLAS_STATUS_ALLOC_FAILED: out of device memory",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH: the device lacks a feature this call needs",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED: a kernel failed on the device",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        _ => "unknown status",
    };

    private static (CuBlasLibrary?, string) Load()
    {
        foreach (string name in Names)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle)) continue;
            try
            {
                return (new CuBlasLibrary(handle, name), "");
            }
            catch (EntryPointNotFoundException e)
            {
                NativeLibrary.Free(handle);
                return (null, $"{name} lacks a cuBLAS v2 entry point: {e.Message}");
            }
        }
        return (null, $"no cuBLAS library found ({string.Join(", ", Names)})");
    }
}
