using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuPs.Kernels;

namespace GpuPs.Core.Checkpoints;

/// <summary>
/// A <see cref="ShardCheckpoint"/> as one safetensors file (an 8-byte little-endian header length, a JSON header, raw
/// little-endian float32 data), so that other tools read the weights (tensor <c>parameters</c>; the optimizer's slots
/// are <c>optimizer.0</c>, <c>optimizer.1</c>). The rest travels as string metadata, with the SHA-256 of the data, so
/// that a torn or corrupted file is detected rather than loaded. Written atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over the target.
/// </summary>
public static class CheckpointFile
{
    private const string Format = "gpups-shard-checkpoint", Version = "1";
    private const long MaxHeaderBytes = 100 << 20;

    /// <summary>Writes <paramref name="checkpoint"/> to <paramref name="path"/> atomically (the old file, if any, stays intact until the rename).</summary>
    public static void Write(string path, ShardCheckpoint checkpoint)
    {
        var tensors = new List<(string Name, float[] Values)> { ("parameters", checkpoint.Parameters) };
        tensors.AddRange(checkpoint.Optimizer.Slots.Select((slot, i) => ($"optimizer.{i}", slot)));
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (_, values) in tensors) sha.AppendData(MemoryMarshal.AsBytes(values.AsSpan()));

        var header = new JsonObject
        {
            ["__metadata__"] = new JsonObject
            {
                ["format"] = Format,
                ["version"] = Version,
                ["job"] = checkpoint.JobFingerprint,
                ["shard"] = Text(checkpoint.Shard),
                ["shards"] = Text(checkpoint.Shards),
                ["offset"] = Text(checkpoint.Offset),
                ["step"] = Text(checkpoint.Step),
                ["optimizer"] = checkpoint.Optimizer.Kind.ToString(),
                ["optimizer_steps"] = Text(checkpoint.Optimizer.Steps),
                ["worker_clocks"] = string.Join(',', checkpoint.WorkerClocks.Select(Text)),
                ["sha256"] = Convert.ToHexStringLower(sha.GetHashAndReset()),
            },
        };
        long offset = 0;
        foreach (var (name, values) in tensors)
        {
            long end = offset + (long)values.Length * sizeof(float);
            header[name] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(values.Length), ["data_offsets"] = new JsonArray(offset, end) };
            offset = end;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());

        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
            file.Write(length);
            file.Write(json);
            foreach (var (_, values) in tensors) file.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);   // rename(2): readers see the old file or the new one, never a mix
    }

    /// <summary>Reads the checkpoint at <paramref name="path"/>, or says in one line why it cannot be used.</summary>
    public static bool TryRead(string path, out ShardCheckpoint? checkpoint, out string problem)
    {
        checkpoint = null;
        try
        {
            checkpoint = Read(File.ReadAllBytes(path));
            problem = "";
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
            return false;
        }
    }

    private static ShardCheckpoint Read(byte[] bytes)
    {
        if (bytes.Length < 8) throw Bad($"{bytes.Length} bytes: no safetensors header");
        long headerBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerBytes <= 0 || headerBytes > MaxHeaderBytes || 8 + headerBytes > bytes.Length)
            throw Bad($"header length {headerBytes} does not fit the file's {bytes.Length} bytes (truncated?)");
        JsonObject header;
        try { header = JsonNode.Parse(bytes.AsSpan(8, (int)headerBytes))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { throw Bad($"header is not a JSON object: {e.Message}"); }
        var meta = header["__metadata__"] as JsonObject ?? throw Bad("no __metadata__");
        if (Meta(meta, "format") != Format || Meta(meta, "version") != Version)
            throw Bad($"not a GpuPs shard checkpoint of version {Version}");
        var data = bytes.AsSpan(8 + (int)headerBytes);

        var kind = Enum.TryParse<OptimizerKind>(Meta(meta, "optimizer"), out var k) ? k : throw Bad("unknown optimizer");
        var parameters = Tensor(header, "parameters", data);
        var slots = new float[OptimizerState.SlotCount(kind)][];
        for (int i = 0; i < slots.Length; i++) slots[i] = Tensor(header, $"optimizer.{i}", data);
        long used = (long)(parameters.Length + slots.Sum(s => s.Length)) * sizeof(float);
        if (used != data.Length) throw Bad($"the tensors cover {used} of {data.Length} data bytes");
        if (Convert.ToHexStringLower(SHA256.HashData(data)) != Meta(meta, "sha256"))
            throw Bad("the data does not match its SHA-256 (corrupted or torn write)");

        string clocks = Meta(meta, "worker_clocks");
        return new ShardCheckpoint(
            Meta(meta, "job"), (int)Number(meta, "shard"), (int)Number(meta, "shards"), Number(meta, "offset"), Number(meta, "step"),
            parameters, new OptimizerState(kind, Number(meta, "optimizer_steps"), slots),
            clocks.Length == 0 ? [] : clocks.Split(',').Select(c => long.Parse(c, CultureInfo.InvariantCulture)).ToArray());
    }

    private static float[] Tensor(JsonObject header, string name, ReadOnlySpan<byte> data)
    {
        var entry = header[name] as JsonObject ?? throw Bad($"no tensor '{name}'");
        if ((string?)entry["dtype"] != "F32") throw Bad($"tensor '{name}' is not F32");
        var offsets = entry["data_offsets"] as JsonArray ?? throw Bad($"tensor '{name}' has no data_offsets");
        long start = (long)offsets[0]!, end = (long)offsets[1]!;
        if (start < 0 || end < start || end > data.Length || (end - start) % sizeof(float) != 0)
            throw Bad($"tensor '{name}' spans [{start}, {end}) of {data.Length} data bytes");
        return MemoryMarshal.Cast<byte, float>(data[(int)start..(int)end]).ToArray();
    }

    private static string Meta(JsonObject meta, string key) => (string?)meta[key] ?? throw Bad($"metadata has no '{key}'");

    private static long Number(JsonObject meta, string key) =>
        long.TryParse(Meta(meta, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw Bad($"metadata '{key}' is not a number");

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static InvalidDataException Bad(string problem) => new($"not a usable checkpoint: {problem}");
}
