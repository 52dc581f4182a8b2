using System.Buffers.Binary;
using System.Net;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// A gRPC request body that declares a message of <paramref name="declared"/> bytes, sends the first
/// <paramref name="sent"/> of them and then holds the request stream open, sending nothing more, until
/// <see cref="Release"/>: what a caller does to make a server hold a message it has not finished.
/// </summary>
internal sealed class UnfinishedGrpcMessage(int declared, int sent) : HttpContent
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Ends the request body (without the rest of the message).</summary>
    public void Release() => _released.TrySetResult();

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var start = new byte[5 + sent];
        BinaryPrimitives.WriteInt32BigEndian(start.AsSpan(1), declared);   // byte 0: not compressed
        await stream.WriteAsync(start);
        await stream.FlushAsync();
        await _released.Task;
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
