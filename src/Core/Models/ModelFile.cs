using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuPs.Core.Serialization;
using GpuPs.Kernels;

namespace GpuPs.Core.Models;

/// <summary>
/// An <see cref="ExportedModel"/> as a safetensors file (<see cref="SafetensorsFile"/>) plus a JSON sidecar beside it
/// (<see cref="SidecarPath"/>), so that NumPy, PyTorch or any safetensors reader loads the weights without GpuPs.
/// A whole model holds one tensor per layer (<see cref="ModelLayer.Of"/>); a shard's slice holds <c>parameters</c>
/// (its part of the flat vector, at metadata <c>offset</c>). Both hold <c>input.mean</c> and <c>input.std</c>, the
/// standardisation the inputs need. The string metadata of the safetensors header repeats everything in the sidecar, so
/// the safetensors file alone is enough to read the model back.
/// </summary>
public static class ModelFile
{
    private const string Format = "gpups-model", Version = "1";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The sidecar of <paramref name="path"/>: <c>model.safetensors</c> → <c>model.meta.json</c>.</summary>
    public static string SidecarPath(string path) => Path.ChangeExtension(path, ".meta.json");

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (atomically) and its sidecar to <see cref="SidecarPath"/>.</summary>
    public static void Write(string path, ExportedModel model)
    {
        if (model.Offset < 0 || model.Offset + model.Parameters.Length > model.Shape.ParameterCount)
            throw new ArgumentException($"parameters [{model.Offset}, {model.Offset + model.Parameters.Length}) do not fit a model of {model.Shape.ParameterCount}");
        var layers = ModelLayer.Of(model.Shape);
        var tensors = model.IsWhole
            ? layers.Select(l => new SafetensorsTensor(l.Name, l.Shape, model.Parameters.AsSpan(l.Offset, l.Length).ToArray())).ToList()
            : [new SafetensorsTensor("parameters", [model.Parameters.Length], model.Parameters)];
        tensors.Add(new SafetensorsTensor("input.mean", [model.InputMean.Length], model.InputMean));
        tensors.Add(new SafetensorsTensor("input.std", [model.InputStd.Length], model.InputStd));

        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["version"] = Version,
            ["model"] = model.Shape.Kind.ToString().ToLowerInvariant(),
            ["features"] = Text(model.Shape.Features),
            ["classes"] = Text(model.Shape.Classes),
            ["hidden"] = Text(model.Shape.Hidden),
            ["parameter_count"] = Text(model.Shape.ParameterCount),
            ["offset"] = Text(model.Offset),
            ["shard"] = Text(model.Shard),
            ["shards"] = Text(model.Shards),
            ["step"] = Text(model.Step),
            ["class_names"] = JsonSerializer.Serialize(model.ClassNames),
            ["job_arguments"] = JsonSerializer.Serialize(model.JobArguments),
        };
        SafetensorsFile.Write(path, tensors, metadata);

        var sidecar = new JsonObject
        {
            ["format"] = Format,
            ["version"] = Version,
            ["weights"] = Path.GetFileName(path),
            ["model"] = metadata["model"],
            ["features"] = model.Shape.Features,
            ["classes"] = model.Shape.Classes,
            ["hidden"] = model.Shape.Hidden,
            ["parameter_count"] = model.Shape.ParameterCount,
            ["whole"] = model.IsWhole,
            ["offset"] = model.Offset,
            ["shard"] = model.Shard,
            ["shards"] = model.Shards,
            ["step"] = model.Step,
            ["tensors"] = new JsonObject(tensors.Select(t => KeyValuePair.Create(t.Name, (JsonNode?)new JsonArray(t.Shape.Select(d => (JsonNode?)d).ToArray())))),
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)new JsonObject
            {
                ["name"] = l.Name,
                ["shape"] = new JsonArray(l.Shape.Select(d => (JsonNode?)d).ToArray()),
                ["offset"] = l.Offset,
            }).ToArray()),
            ["input"] = "x' = (x - input.mean) / input.std, per feature, before the first layer",
            ["output"] = model.Shape.Kind == ModelKind.Logistic
                ? "p(class 1) = sigmoid(x' @ weight.T + bias)"
                : model.Shape.Kind == ModelKind.Softmax ? "class = argmax(x' @ weight.T + bias)"
                : "class = argmax(relu(x' @ hidden.weight.T + hidden.bias) @ output.weight.T + output.bias)",
            ["class_names"] = new JsonArray(model.ClassNames.Select(c => (JsonNode?)c).ToArray()),
            ["job_arguments"] = new JsonArray(model.JobArguments.Select(a => (JsonNode?)a).ToArray()),
        };
        File.WriteAllText(SidecarPath(path), sidecar.ToJsonString(Indented));
    }

    /// <summary>Reads a model or shard slice that <see cref="Write"/> wrote; the sidecar is not needed.</summary>
    /// <exception cref="InvalidDataException">Not a GpuPs model file, or its tensors disagree with its shape; the message says which.</exception>
    public static ExportedModel Read(string path)
    {
        SafetensorsContent file;
        try { file = SafetensorsFile.Read(File.ReadAllBytes(path)); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != Format || !meta.TryGetValue("version", out var version) || version != Version)
            throw new InvalidDataException($"{path} is not a GpuPs model file of version {Version} (metadata format '{format}')");
        var kind = Enum.TryParse<ModelKind>(Meta(meta, "model"), ignoreCase: true, out var k) ? k : throw new InvalidDataException($"{path}: unknown model '{meta["model"]}'");
        var shape = new ModelShape(kind, (int)Number(meta, "features"), (int)Number(meta, "classes"), (int)Number(meta, "hidden"));
        float[] parameters;
        if (file.Tensors.TryGetValue("parameters", out var slice)) parameters = slice.Values;
        else
        {
            parameters = new float[shape.ParameterCount];
            foreach (var layer in ModelLayer.Of(shape))
            {
                var t = file.Tensors.TryGetValue(layer.Name, out var found) ? found : throw new InvalidDataException($"{path}: no tensor '{layer.Name}' for a {kind.ToString().ToLowerInvariant()} model");
                if (!t.Shape.SequenceEqual(layer.Shape))
                    throw new InvalidDataException($"{path}: tensor '{layer.Name}' has shape [{string.Join(", ", t.Shape)}], the model needs [{string.Join(", ", layer.Shape)}]");
                t.Values.CopyTo(parameters, layer.Offset);
            }
        }
        long offset = Number(meta, "offset");
        if (offset < 0 || offset + parameters.Length > shape.ParameterCount)
            throw new InvalidDataException($"{path}: parameters [{offset}, {offset + parameters.Length}) do not fit a model of {shape.ParameterCount}");
        var mean = Tensor(file, path, "input.mean", shape.Features);
        var std = Tensor(file, path, "input.std", shape.Features);
        return new ExportedModel(shape, parameters, offset, Number(meta, "step"), mean, std,
            JsonSerializer.Deserialize<string[]>(Meta(meta, "class_names")) ?? [], JsonSerializer.Deserialize<string[]>(Meta(meta, "job_arguments")) ?? [],
            (int)Number(meta, "shard"), (int)Number(meta, "shards"));

        string Meta(IReadOnlyDictionary<string, string> m, string key) => m.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: metadata has no '{key}'");
        long Number(IReadOnlyDictionary<string, string> m, string key) =>
            long.TryParse(Meta(m, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw new InvalidDataException($"{path}: metadata '{key}' is not a number");
    }

    private static float[] Tensor(SafetensorsContent file, string path, string name, int length)
    {
        var t = file.Tensors.TryGetValue(name, out var found) ? found : throw new InvalidDataException($"{path}: no tensor '{name}'");
        return t.Values.Length == length ? t.Values : throw new InvalidDataException($"{path}: tensor '{name}' has {t.Values.Length} values for {length} features");
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
