using System.Buffers.Binary;
using System.Text.Json.Nodes;
using GpuPs.Core.Checkpoints;
using GpuPs.Core.Tests.Data;
using GpuPs.Kernels;
using Serilog.Core;

namespace GpuPs.Core.Tests.Checkpoints;

public sealed class CheckpointFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ShardCheckpoint Sample(long step = 42, string job = "0123456789abcdef0123456789abcdef") =>
        new(job, Shard: 1, Shards: 3, Offset: 7, step,
            Parameters: [1.5f, -2f, float.Epsilon, 3e38f],
            new OptimizerState(OptimizerKind.Adam, Steps: step, Slots: [[0.1f, 0.2f, 0.3f, 0.4f], [1f, 2f, 3f, 4f]]),
            WorkerClocks: [42, 41, 40]);

    [Fact]
    public void A_checkpoint_reads_back_bit_for_bit()
    {
        string path = Path.Combine(_dir.Path, "a.safetensors");
        var written = Sample();

        CheckpointFile.Write(path, written);

        Assert.True(CheckpointFile.TryRead(path, out var read, out string problem), problem);
        Assert.Equal(written.JobFingerprint, read!.JobFingerprint);
        Assert.Equal((written.Shard, written.Shards, written.Offset, written.Step), (read.Shard, read.Shards, read.Offset, read.Step));
        Assert.Equal(written.Parameters, read.Parameters);
        Assert.Equal(written.Optimizer.Kind, read.Optimizer.Kind);
        Assert.Equal(written.Optimizer.Steps, read.Optimizer.Steps);
        Assert.Equal(written.Optimizer.Slots, read.Optimizer.Slots);
        Assert.Equal(written.WorkerClocks, read.WorkerClocks);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    [Fact]
    public void The_file_is_safetensors_that_other_tools_read()
    {
        string path = Path.Combine(_dir.Path, "b.safetensors");
        CheckpointFile.Write(path, Sample());
        var bytes = File.ReadAllBytes(path);

        long headerBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerBytes))!.AsObject();
        var parameters = header["parameters"]!.AsObject();

        Assert.Equal("F32", (string?)parameters["dtype"]);
        Assert.Equal(4, (int)parameters["shape"]![0]!);
        var offsets = parameters["data_offsets"]!.AsArray();
        var data = bytes.AsSpan(8 + (int)headerBytes);
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(data[((int)offsets[0]! + 4)..]));
        Assert.Equal("42", (string?)header["__metadata__"]!["step"]);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("flipped data byte")]
    [InlineData("flipped header byte")]
    [InlineData("empty")]
    public void A_torn_or_corrupted_file_is_refused_with_a_reason(string damage)
    {
        string path = Path.Combine(_dir.Path, "c.safetensors");
        CheckpointFile.Write(path, Sample());
        var bytes = File.ReadAllBytes(path);
        bytes = damage switch
        {
            "truncated" => bytes[..(bytes.Length - 5)],
            "flipped data byte" => Flip(bytes, bytes.Length - 3),
            "flipped header byte" => Flip(bytes, 20),
            _ => [],
        };
        File.WriteAllBytes(path, bytes);

        Assert.False(CheckpointFile.TryRead(path, out var read, out string problem));
        Assert.Null(read);
        Assert.StartsWith("not a usable checkpoint: ", problem);
    }

    [Fact]
    public void The_store_returns_the_newest_intact_checkpoint_of_the_job_and_keeps_three()
    {
        var store = new CheckpointStore(_dir.Path, shard: 1, Logger.None);
        foreach (long step in new long[] { 10, 20, 30, 40, 50 }) store.Save(Sample(step));
        store.Save(Sample(60, job: "ffffffffffffffffffffffffffffffff"));   // another job's, newest
        var newest = Directory.GetFiles(_dir.Path, "*step-000000000050*").Single();
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..100]);        // torn write

        var latest = store.Latest(Sample().JobFingerprint);

        Assert.Equal(40, latest!.Step);
        Assert.Equal(CheckpointStore.Kept, Directory.GetFiles(_dir.Path, "*.safetensors").Length);
        Assert.Null(new CheckpointStore(_dir.Path, shard: 2, Logger.None).Latest(Sample().JobFingerprint));
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0x5A;
        return copy;
    }
}
