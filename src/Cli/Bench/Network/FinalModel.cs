using System.Runtime.InteropServices;
using System.Security.Cryptography;
using GpuPs.Core.Security;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;

namespace GpuPs.Cli.Bench.Network;

/// <summary>A run's final model, read from its shards as an observer, and its fingerprint for comparing runs.</summary>
public static class FinalModel
{
    /// <summary>The parameters of every shard at <paramref name="step"/>, concatenated in shard order.</summary>
    public static async Task<float[]> PullAsync(IReadOnlyList<string> servers, long step, CancellationToken ct)
    {
        var parts = new List<float[]>();
        foreach (var server in servers)
        {
            await using var client = new GrpcShardClient(server, JobAuth.Insecure);
            var status = await client.StatusAsync(ct, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var values = new float[status.Shard.Length];
            await client.PullAsync(-1, step, values, ct, TimeSpan.FromSeconds(120)).ConfigureAwait(false);
            parts.Add(values);
        }
        return [.. parts.SelectMany(p => p)];
    }

    /// <summary>SHA-256 of the parameters' little-endian bytes, as 16 hex digits (enough to tell runs apart).</summary>
    public static string Hash(float[] parameters) => Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(parameters.AsSpan())))[..16].ToLowerInvariant();
}
