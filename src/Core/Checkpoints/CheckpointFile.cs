using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using GpuPs.Core.Serialization;
using GpuPs.Kernels;

namespace GpuPs.Core.Checkpoints;

/// <summary>
/// A <see cref="ShardCheckpoint"/> as one safetensors file (an 8-byte little-endian header length, a JSON header, raw
/// little-endian float32 data), so that other tools read the weights (tensor <c>parameters</c>; the optimizer's slots
/// are <c>optimizer.0</c>, <c>optimizer.1</c>). The rest travels as string metadata, with the SHA-256 of the data, so
/// that a torn or corrupted file is detected rather than loaded. Written atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over the target (<see cref="SafetensorsFile"/>).
/// </summary>
public static class CheckpointFile
{
    private const string Format = "gpups-shard-checkpoint", Version = "1";

    /// <summary>Writes <paramref name="checkpoint"/> to <paramref name="path"/> atomically (the old file, if any, stays intact until the rename).</summary>
    public static void Write(string path, ShardCheckpoint checkpoint)
    {
        var tensors = new List<SafetensorsTensor> { new("parameters", [checkpoint.Parameters.Length], checkpoint.Parameters) };
        tensors.AddRange(checkpoint.Optimizer.Slots.Select((slot, i) => new SafetensorsTensor($"optimizer.{i}", [slot.Length], slot)));
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors) sha.AppendData(MemoryMarshal.AsBytes(t.Values.AsSpan()));
        var meta = new Dictionary<string, string>
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
        };
        // Only when a shard's ranges count their optimizers' steps differently; without it every range has optimizer_steps.
        if (checkpoint.Optimizer.RangeSteps is { } counts) meta["optimizer_range_steps"] = string.Join(',', counts.Select(Text));
        SafetensorsFile.Write(path, tensors, meta);
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
        SafetensorsContent file;
        try { file = SafetensorsFile.Read(bytes); }
        catch (InvalidDataException e) { throw Bad(e.Message); }
        var meta = file.Metadata;
        if (meta.Count == 0) throw Bad("no __metadata__");
        if (Meta(meta, "format") != Format || Meta(meta, "version") != Version)
            throw Bad($"not a GpuPs shard checkpoint of version {Version}");

        var kind = Enum.TryParse<OptimizerKind>(Meta(meta, "optimizer"), out var k) ? k : throw Bad("unknown optimizer");
        var parameters = Tensor(file, "parameters");
        var slots = new float[OptimizerState.SlotCount(kind)][];
        for (int i = 0; i < slots.Length; i++) slots[i] = Tensor(file, $"optimizer.{i}");
        if (file.Tensors.Count != 1 + slots.Length) throw Bad($"{file.Tensors.Count} tensors where {kind} has {1 + slots.Length}");
        if (Convert.ToHexStringLower(SHA256.HashData(file.Data.Span)) != Meta(meta, "sha256"))
            throw Bad("the data does not match its SHA-256 (corrupted or torn write)");

        string clocks = Meta(meta, "worker_clocks");
        return new ShardCheckpoint(
            Meta(meta, "job"), (int)Number(meta, "shard"), (int)Number(meta, "shards"), Number(meta, "offset"), Number(meta, "step"),
            parameters, new OptimizerState(kind, Number(meta, "optimizer_steps"), slots)
            {
                RangeSteps = meta.TryGetValue("optimizer_range_steps", out var counts) ? Numbers(counts, "optimizer_range_steps") : null,
            },
            Numbers(clocks, "worker_clocks"));
    }

    private static long[] Numbers(string list, string key) =>
        list.Length == 0 ? [] : list.Split(',').Select(c => long.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw Bad($"metadata '{key}' is not a list of numbers")).ToArray();

    private static float[] Tensor(SafetensorsContent file, string name) =>
        file.Tensors.TryGetValue(name, out var t) ? t.Values : throw Bad($"no tensor '{name}'");

    private static string Meta(IReadOnlyDictionary<string, string> meta, string key) => meta.TryGetValue(key, out var v) ? v : throw Bad($"metadata has no '{key}'");

    private static long Number(IReadOnlyDictionary<string, string> meta, string key) =>
        long.TryParse(Meta(meta, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw Bad($"metadata '{key}' is not a number");

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static InvalidDataException Bad(string problem) => new($"not a usable checkpoint: {problem}");
}
