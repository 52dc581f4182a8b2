using System.Buffers.Binary;
using System.Text.Json.Nodes;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Models;
using GpuPs.Core.Serialization;
using GpuPs.Core.Tests.Data;
using GpuPs.Kernels;

namespace GpuPs.Core.Tests.Models;

public sealed class ModelFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ExportedModel Mlp()
    {
        var shape = new ModelShape(ModelKind.Mlp, Features: 3, Classes: 4, Hidden: 2);
        var parameters = Enumerable.Range(0, shape.ParameterCount).Select(i => i * 0.5f - 3f).ToArray();
        return new ExportedModel(shape, parameters, 0, Step: 17, InputMean: [1f, 2f, 3f], InputStd: [0.5f, 1f, 4f],
            ClassNames: ["cat", "dog", "eel", "fox"], JobArguments: ["--model", "mlp", "--hidden", "2"]);
    }

    [Fact]
    public void A_model_reads_back_bit_for_bit()
    {
        string path = Path.Combine(_dir.Path, "m.safetensors");
        var written = Mlp();

        ModelFile.Write(path, written);
        var read = ModelFile.Read(path);

        Assert.Equal(written.Shape, read.Shape);
        Assert.Equal(written.Parameters, read.Parameters);
        Assert.True(read.IsWhole);
        Assert.Equal((written.Step, written.Offset), (read.Step, read.Offset));
        Assert.Equal(written.InputMean, read.InputMean);
        Assert.Equal(written.InputStd, read.InputStd);
        Assert.Equal(written.ClassNames, read.ClassNames);
        Assert.Equal(written.JobArguments, read.JobArguments);
    }

    [Fact]
    public void Layers_have_pytorch_names_and_shapes_for_an_independent_reader()
    {
        string path = Path.Combine(_dir.Path, "m.safetensors");
        var model = Mlp();
        ModelFile.Write(path, model);

        // Parsed by hand from the bytes, not through SafetensorsFile.
        var bytes = File.ReadAllBytes(path);
        long headerBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerBytes))!.AsObject();
        var data = bytes.AsSpan(8 + (int)headerBytes);
        (string Name, int[] Shape, int Offset)[] expected =
            [("hidden.weight", [2, 3], 0), ("hidden.bias", [2], 6), ("output.weight", [4, 2], 8), ("output.bias", [4], 16)];
        foreach (var (name, shape, offset) in expected)
        {
            var entry = header[name]!.AsObject();
            Assert.Equal("F32", (string?)entry["dtype"]);
            Assert.Equal(shape, entry["shape"]!.AsArray().Select(d => (int)d!).ToArray());
            int start = (int)entry["data_offsets"]![0]!;
            int count = shape.Aggregate(1, (a, d) => a * d);
            for (int i = 0; i < count; i++)
                Assert.Equal(model.Parameters[offset + i], BinaryPrimitives.ReadSingleLittleEndian(data[(start + 4 * i)..]));
        }
        Assert.Equal([3], header["input.std"]!["shape"]!.AsArray().Select(d => (int)d!).ToArray());
        Assert.Equal("mlp", (string?)header["__metadata__"]!["model"]);
        var sidecar = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.Path, "m.meta.json")))!;
        Assert.Equal("m.safetensors", (string?)sidecar["weights"]);
        Assert.Equal(new[] { "hidden.weight", "hidden.bias", "output.weight", "output.bias" }, sidecar["layers"]!.AsArray().Select(l => (string?)l!["name"]));
        Assert.Equal("dog", (string?)sidecar["class_names"]![1]);
    }

    [Theory]
    [InlineData(ModelKind.Logistic, 5, 2, 0, new[] { "weight:1x5", "bias:1" })]
    [InlineData(ModelKind.Softmax, 5, 3, 0, new[] { "weight:3x5", "bias:3" })]
    public void Linear_models_are_one_weight_and_one_bias(ModelKind kind, int features, int classes, int hidden, string[] layers)
    {
        var shape = new ModelShape(kind, features, classes, hidden);
        var described = ModelLayer.Of(shape).Select(l => $"{l.Name}:{string.Join('x', l.Shape)}").ToArray();
        Assert.Equal(layers, described);
        Assert.Equal(shape.ParameterCount, ModelLayer.Of(shape).Sum(l => l.Length));
    }

    [Fact]
    public void A_shard_slice_keeps_its_offset()
    {
        string path = Path.Combine(_dir.Path, "s.safetensors");
        var whole = Mlp();
        var slice = whole with { Parameters = whole.Parameters[5..12], Offset = 5, Shard = 1, Shards = 3 };

        ModelFile.Write(path, slice);
        var read = ModelFile.Read(path);

        Assert.False(read.IsWhole);
        Assert.Equal((5L, 1, 3), (read.Offset, read.Shard, read.Shards));
        Assert.Equal(slice.Parameters, read.Parameters);
    }

    [Fact]
    public void A_file_that_is_not_a_model_is_refused_by_name()
    {
        string path = Path.Combine(_dir.Path, "checkpoint.safetensors");
        CheckpointFile.Write(path, new ShardCheckpoint("0123456789abcdef0123456789abcdef", 0, 1, 0, 3, [1f, 2f],
            new OptimizerState(OptimizerKind.Sgd, 3, []), [3]));

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Read(path));
        Assert.Contains("not a GpuPs model file", e.Message);
    }

    [Fact]
    public void A_layer_of_the_wrong_shape_is_refused()
    {
        string path = Path.Combine(_dir.Path, "bad.safetensors");
        var good = Path.Combine(_dir.Path, "good.safetensors");
        ModelFile.Write(good, Mlp());
        var file = SafetensorsFile.Read(File.ReadAllBytes(good));
        var tensors = file.Tensors.Values.Select(t => t.Name == "hidden.weight" ? t with { Shape = [3, 2] } : t).ToList();
        SafetensorsFile.Write(path, tensors, file.Metadata);

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Read(path));
        Assert.Contains("'hidden.weight' has shape [3, 2], the model needs [2, 3]", e.Message);
    }
}
