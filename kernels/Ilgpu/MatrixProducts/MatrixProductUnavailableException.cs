namespace GpuPs.Kernels;

/// <summary>
/// <see cref="MatrixProductChoice.CuBlas"/> was asked for where it cannot run (no CUDA device, or no cuBLAS that loads
/// and makes a handle). Not taken for "no device": <see cref="Accelerators.Create"/> lets it through with its reason.
/// </summary>
public sealed class MatrixProductUnavailableException(string message) : InvalidOperationException(message);
