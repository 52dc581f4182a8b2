using System.Buffers;
using Grpc.Core;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>Stand-ins for grpc-dotnet's serialization contexts and helpers that cut payloads into many segments.</summary>
internal static class WireTestSupport
{
    public static byte[] Serialize<T>(Marshaller<T> marshaller, T message, int maxSpan = int.MaxValue)
    {
        var context = new CapturingSerializationContext(maxSpan);
        marshaller.ContextualSerializer(message, context);
        Assert.True(context.Completed);
        Assert.Equal(context.PayloadLength, context.Written.Length);
        return context.Written;
    }

    public static T Deserialize<T>(Marshaller<T> marshaller, ReadOnlySequence<byte> payload) =>
        marshaller.ContextualDeserializer(new SequenceDeserializationContext(payload));

    /// <summary><paramref name="bytes"/> as a sequence cut at <paramref name="cuts"/> (positions, any order, duplicates give empty segments).</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, params int[] cuts)
    {
        var bounds = cuts.Where(c => c >= 0 && c <= bytes.Length).Order().Append(bytes.Length).ToArray();
        var first = new Segment(bytes.AsMemory(0, bounds[0]), 0);
        var last = first;
        for (var i = 1; i < bounds.Length; i++)
            last = last.Append(bytes.AsMemory(bounds[i - 1], bounds[i] - bounds[i - 1]));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cut points every 1..<paramref name="maxGap"/> bytes: splits tags, varints and floats at random places.</summary>
    public static int[] RandomCuts(Random random, int length, int maxGap)
    {
        var cuts = new List<int>();
        for (var at = random.Next(0, maxGap + 1); at < length; at += random.Next(1, maxGap + 1)) cuts.Add(at);
        return [.. cuts];
    }

    public static float[] RandomFloats(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 200 - 100)).ToArray();

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory) => (Segment)(Next = new Segment(memory, RunningIndex + Memory.Length));
    }

    private sealed class CapturingSerializationContext(int maxSpan) : SerializationContext
    {
        private readonly ChoppyBufferWriter _writer = new(maxSpan);

        public int? PayloadLength { get; private set; }
        public bool Completed { get; private set; }
        public byte[] Written => _writer.Written.ToArray();

        public override void SetPayloadLength(int payloadLength) => PayloadLength = payloadLength;
        public override IBufferWriter<byte> GetBufferWriter() => _writer;
        public override void Complete() => Completed = true;
        public override void Complete(byte[] payload) => throw new InvalidOperationException("raw marshallers write through the buffer writer");
    }

    /// <summary>A buffer writer that hands out spans of at most <c>maxSpan</c> bytes whatever the size hint.</summary>
    private sealed class ChoppyBufferWriter(int maxSpan) : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new();

        public ReadOnlySpan<byte> Written => _inner.WrittenSpan;
        public void Advance(int count) => _inner.Advance(count);
        public Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint)[..Math.Min(maxSpan, Math.Max(sizeHint, 1))];
        public Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint)[..Math.Min(maxSpan, Math.Max(sizeHint, 1))];
    }

    private sealed class SequenceDeserializationContext(ReadOnlySequence<byte> payload) : DeserializationContext
    {
        public override int PayloadLength => (int)payload.Length;
        public override byte[] PayloadAsNewBuffer() => payload.ToArray();
        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => payload;
    }
}
