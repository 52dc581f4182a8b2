using GpuPs.Core.Coding;

namespace GpuPs.Tests.Shared;

/// <summary>A worker's coded message in a test, computed the way its kernel computes it.</summary>
public static class CodedGradients
{
    /// <summary>c = Σ_j B[worker, j] g_j over the partitions <paramref name="worker"/> holds, in float32.</summary>
    public static float[] Encode(IGradientCode code, int worker, float[][] g)
    {
        var c = new float[g[0].Length];
        foreach (int j in code.PartitionsOf(worker))
        {
            float b = (float)code[worker, j];
            for (int k = 0; k < c.Length; k++) c[k] += b * g[j][k];
        }
        return c;
    }
}
