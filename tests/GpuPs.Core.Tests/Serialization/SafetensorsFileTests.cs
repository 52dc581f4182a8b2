using System.Buffers.Binary;
using System.Text;
using GpuPs.Core.Serialization;
using GpuPs.Core.Tests.Data;

namespace GpuPs.Core.Tests.Serialization;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Tensors_shapes_and_metadata_read_back()
    {
        string path = Path.Combine(_dir.Path, "t.safetensors");
        SafetensorsFile.Write(path, [new("a", [2, 3], [1, 2, 3, 4, 5, 6]), new("b", [1], [-7])], new Dictionary<string, string> { ["k"] = "v" });

        var read = SafetensorsFile.Read(File.ReadAllBytes(path));

        Assert.Equal("v", read.Metadata["k"]);
        Assert.Equal([2, 3], read.Tensors["a"].Shape);
        Assert.Equal([1f, 2, 3, 4, 5, 6], read.Tensors["a"].Values);
        Assert.Equal([-7f], read.Tensors["b"].Values);
        Assert.Equal(7 * sizeof(float), read.Data.Length);
    }

    [Fact]
    public void A_shape_that_does_not_match_the_values_is_not_written()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            SafetensorsFile.Write(Path.Combine(_dir.Path, "x.safetensors"), [new("a", [2, 2], [1, 2, 3])], new Dictionary<string, string>()));
        Assert.Contains("'a' has 3 values", e.Message);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "gap or overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "has shape [3] but 8 bytes")]
    [InlineData("""{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}""", "is F16, not F32")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "cover 4 of 8 data bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", "spans [0, 16) of 8 data bytes")]
    public void A_malformed_header_is_refused_with_the_reason(string header, string reason)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);

        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(bytes));
        Assert.Contains(reason, e.Message);
    }
}
