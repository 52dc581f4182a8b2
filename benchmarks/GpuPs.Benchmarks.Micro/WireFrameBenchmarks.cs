using System.Buffers;
using BenchmarkDotNet.Attributes;
using GpuPs.Protocol;

namespace GpuPs.Benchmarks.Micro;

/// <summary>
/// The hand-written tensor marshalling of a 1 MiB push chunk: serialise it into a buffer writer as gRPC does, then parse
/// it back into a pooled frame. Baseline: copying the same bytes once.
/// </summary>
[MemoryDiagnoser]
public class WireFrameBenchmarks
{
    private const int Floats = (1 << 20) / sizeof(float);
    private readonly float[] _values = Enumerable.Range(0, Floats).Select(i => (float)i).ToArray();
    private readonly ArrayBufferWriter<byte> _writer = new(2 << 20);
    private byte[] _bytes = null!;
    private float[] _copy = null!;

    [GlobalSetup]
    public void Setup()
    {
        var frame = new PushChunkFrame(new PushHeader(3, 7, 0, 32, 1.5), 0, _values);
        frame.WriteTo(_writer);
        _bytes = _writer.WrittenSpan.ToArray();
        _copy = new float[Floats];
    }

    [Benchmark(Baseline = true, Description = "copy 1 MiB")]
    public void Copy() => _values.CopyTo(_copy, 0);

    [Benchmark(Description = "serialise a 1 MiB push chunk")]
    public int Serialise()
    {
        _writer.ResetWrittenCount();
        new PushChunkFrame(new PushHeader(3, 7, 0, 32, 1.5), 0, _values).WriteTo(_writer);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "parse a 1 MiB push chunk")]
    public long Parse()
    {
        using var frame = PushChunkFrame.Parse(new ReadOnlySequence<byte>(_bytes));
        return frame.Offset + frame.Values.Length;
    }
}
