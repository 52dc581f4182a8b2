using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GpuPs.Core.Serialization;

/// <summary>One named float32 tensor of a safetensors file: its shape (row-major) and its values.</summary>
/// <param name="Name">The tensor's key in the header, e.g. <c>parameters</c> or <c>hidden.weight</c>.</param>
/// <param name="Shape">Dimensions, outermost first; their product is <c>Values.Length</c>.</param>
/// <param name="Values">The data, row-major.</param>
public sealed record SafetensorsTensor(string Name, IReadOnlyList<int> Shape, float[] Values);

/// <summary>What <see cref="SafetensorsFile.Read"/> found: the string metadata, the tensors by name and the raw data section.</summary>
/// <param name="Metadata">The header's <c>__metadata__</c> (string to string), empty when absent.</param>
/// <param name="Tensors">Every tensor of the file, by name.</param>
/// <param name="Data">The byte buffer after the header (the tensors' data, exactly covered by them).</param>
public sealed record SafetensorsContent(IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, SafetensorsTensor> Tensors, ReadOnlyMemory<byte> Data);

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of a JSON header
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c>),
/// then the data, little-endian, each tensor's bytes at its offsets relative to the end of the header, with no gaps.
/// GpuPs writes float32 only. Files are written atomically: a temporary file in the same folder, flushed to disk, then
/// renamed over the target, so a reader sees the old file or the new one, never a mix.
/// </summary>
public static class SafetensorsFile
{
    // The reference implementation refuses headers above 100 MB; so do we, before allocating anything for one.
    private const long MaxHeaderBytes = 100 << 20;

    /// <summary>Writes <paramref name="tensors"/> (in this order) and <paramref name="metadata"/> to <paramref name="path"/> atomically.</summary>
    /// <exception cref="ArgumentException">A tensor's shape does not multiply to its length, or two tensors share a name.</exception>
    public static void Write(string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject(metadata.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))) };
        long offset = 0;
        foreach (var t in tensors)
        {
            if (t.Shape.Aggregate(1L, (a, d) => a * d) != t.Values.Length)
                throw new ArgumentException($"tensor '{t.Name}' has {t.Values.Length} values, its shape [{string.Join(", ", t.Shape)}] says otherwise");
            if (header.ContainsKey(t.Name)) throw new ArgumentException($"two tensors are named '{t.Name}'");
            long end = offset + (long)t.Values.Length * sizeof(float);
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode?)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, end),
            };
            offset = end;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
            file.Write(length);
            file.Write(json);
            foreach (var t in tensors) file.Write(MemoryMarshal.AsBytes(t.Values.AsSpan()));
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);   // rename(2): readers see the old file or the new one, never a mix
    }

    /// <summary>Parses a whole safetensors file held in <paramref name="bytes"/>.</summary>
    /// <exception cref="InvalidDataException">Not a safetensors file, a tensor that is not F32, offsets outside the data, gaps, or a shape that disagrees with its bytes; the message says which.</exception>
    public static SafetensorsContent Read(byte[] bytes)
    {
        if (bytes.Length < 8) throw new InvalidDataException($"{bytes.Length} bytes: no safetensors header");
        long headerBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerBytes <= 0 || headerBytes > MaxHeaderBytes || 8 + headerBytes > bytes.Length)
            throw new InvalidDataException($"header length {headerBytes} does not fit the file's {bytes.Length} bytes (truncated?)");
        JsonObject header;
        try { header = JsonNode.Parse(bytes.AsSpan(8, (int)headerBytes))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidDataException($"header is not a JSON object: {e.Message}");
        }
        var data = bytes.AsMemory(8 + (int)headerBytes);

        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, SafetensorsTensor>();
        var spans = new List<(long Start, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (key, value) in node as JsonObject ?? throw new InvalidDataException("__metadata__ is not an object"))
                    metadata[key] = value is JsonValue v && v.TryGetValue(out string? text) ? text : throw new InvalidDataException($"metadata '{key}' is not a string");
                continue;
            }
            var entry = node as JsonObject ?? throw new InvalidDataException($"tensor '{name}' is not an object");
            if ((string?)entry["dtype"] != "F32") throw new InvalidDataException($"tensor '{name}' is {(string?)entry["dtype"] ?? "untyped"}, not F32");
            try
            {
                var shape = (entry["shape"] as JsonArray ?? throw new InvalidDataException($"tensor '{name}' has no shape")).Select(d => (int)d!).ToArray();
                var offsets = entry["data_offsets"] as JsonArray ?? throw new InvalidDataException($"tensor '{name}' has no data_offsets");
                if (offsets.Count != 2) throw new InvalidDataException($"tensor '{name}' has {offsets.Count} data_offsets, not 2");
                long start = (long)offsets[0]!, end = (long)offsets[1]!;
                if (start < 0 || end < start || end > data.Length || (end - start) % sizeof(float) != 0)
                    throw new InvalidDataException($"tensor '{name}' spans [{start}, {end}) of {data.Length} data bytes");
                if (shape.Any(d => d < 0) || shape.Aggregate(1L, (a, d) => a * d) * sizeof(float) != end - start)
                    throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(", ", shape)}] but {end - start} bytes");
                var values = MemoryMarshal.Cast<byte, float>(data.Span[(int)start..(int)end]).ToArray();
                tensors[name] = new SafetensorsTensor(name, shape, values);
                spans.Add((start, end));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException or ArgumentOutOfRangeException)
            {
                throw new InvalidDataException($"tensor '{name}' has a malformed entry: {e.Message}");
            }
        }
        // The format forbids holes and overlaps: the tensors, sorted by offset, tile the data section exactly.
        long covered = 0;
        foreach (var (start, end) in spans.OrderBy(s => s.Start))
        {
            if (start != covered) throw new InvalidDataException($"the tensors leave a gap or overlap at data byte {Math.Min(start, covered)}");
            covered = end;
        }
        if (covered != data.Length) throw new InvalidDataException($"the tensors cover {covered} of {data.Length} data bytes");
        return new SafetensorsContent(metadata, tensors, data);
    }
}
