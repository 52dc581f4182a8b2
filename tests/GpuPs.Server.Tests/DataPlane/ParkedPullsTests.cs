using System.IO.Hashing;
using System.Runtime.InteropServices;
using GpuPs.Core.Modes;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Protocol.Frames;
using GpuPs.Server.DataPlane;

namespace GpuPs.Server.Tests.DataPlane;

/// <summary>
/// The pulls waiting for a step are answered by the push that closes it, from one copy of the parameters: each waiting
/// pull gets its held push reply and the step's parameters in one checksummed write, a pull of a later step waits on,
/// a pull its connection claimed first is left to it, and a shard whose pulls differ per worker parks nothing.
/// </summary>
public class ParkedPullsTests
{
    [Fact]
    public async Task The_push_that_closes_a_step_answers_every_waiting_pull_with_its_reply_from_one_copy()
    {
        using var inner = BspShard(3);
        var (shard, pulls) = Plane(inner);
        Assert.True(pulls.Enabled);
        var outputs = Enumerable.Range(0, 3).Select(_ => new MemoryStream()).ToArray();
        var parked = new List<ParkedPulls.Parked>();
        for (int w = 0; w < 2; w++)
        {
            var outcome = shard.Push(new PushHeader(w, 0, 0, 1, 0.5), ShardFixture.Filled(w + 1));
            parked.Add(pulls.Park(outputs[w], minStep: 1, HeldPushReply.Of(outcome, 0))!);
        }
        var later = pulls.Park(outputs[2], minStep: 2, held: null)!;

        pulls.AnswerReady();   // step 0 is still open: nothing is ready
        Assert.All(outputs, o => Assert.Equal(0, o.Length));
        shard.Copies = 0;

        Assert.True(shard.Push(new PushHeader(2, 0, 0, 1, 0.5), ShardFixture.Filled(3)).ClosedStep);
        pulls.AnswerReady();

        Assert.Equal(1, shard.Copies);   // one copy for both waiting pulls
        var expected = ShardFixture.Parameters(inner);
        Assert.All(expected, v => Assert.Equal(-2f, v));   // the mean of 1, 2 and 3, descended with learning rate 1
        for (int w = 0; w < 2; w++)
        {
            var frames = Frames(outputs[w].ToArray());
            Assert.Equal([FrameKind.PushReply, FrameKind.PullReply], frames.Select(f => f.Header.Kind));
            var (reply, _) = frames[0];
            Assert.Equal(PushOutcomeKind.Applied, (PushOutcomeKind)reply.Part);
            Assert.InRange(reply.Count, 0, 60_000_000);   // the µs it was held: some, never negative
            var (pulled, values) = frames[1];
            Assert.Equal(1, pulled.Step);
            Assert.Equal(expected, MemoryMarshal.Cast<byte, float>(values).ToArray());
        }
        Assert.Equal(0, outputs[2].Length);   // the pull of step 2 waits on
        Assert.True(await pulls.AnsweredAsync(parked[0]));
        Assert.False(await pulls.AnsweredAsync(later));   // its connection answers it itself
    }

    [Fact]
    public async Task A_pull_its_connection_claimed_first_is_left_to_it_and_a_failed_write_is_reported_to_it()
    {
        using var inner = BspShard(2);
        var (shard, pulls) = Plane(inner);
        var claimed = new MemoryStream();
        var gone = new MemoryStream();
        gone.Dispose();   // the peer's connection closed
        var own = pulls.Park(claimed, 1, null)!;
        var broken = pulls.Park(gone, 1, null)!;
        Assert.False(await pulls.AnsweredAsync(own));   // e.g. its deadline passed first

        shard.Push(new PushHeader(0, 0, 0, 1, 0), ShardFixture.Filled(1));
        shard.Push(new PushHeader(1, 0, 0, 1, 0), ShardFixture.Filled(1));
        pulls.AnswerReady();

        Assert.Equal(0, claimed.Length);
        var failure = Assert.Throws<AggregateException>(() => pulls.AnsweredAsync(broken).AsTask().Wait());
        Assert.IsType<IOException>(failure.InnerException);
    }

    [Theory]
    [InlineData(SyncMode.Asp)]
    [InlineData(SyncMode.Ssp)]
    public void A_shard_whose_pulls_are_not_shared_at_a_step_parks_nothing(SyncMode mode)
    {
        using var shard = ShardFixture.Create(ShardFixture.Job(mode, workers: 2, steps: 3, staleness: mode == SyncMode.Ssp ? 1 : 0));
        var pulls = new ParkedPulls(shard);
        Assert.False(pulls.Enabled);
        Assert.Null(pulls.Park(new MemoryStream(), 1, null));
    }

    /// <summary>A BSP shard of <paramref name="workers"/> registered workers.</summary>
    private static ParameterShard BspShard(int workers)
    {
        var shard = ShardFixture.Create(ShardFixture.Job(SyncMode.Bsp, workers, steps: 3));
        ShardFixture.RegisterAll(shard, workers);
        return shard;
    }

    /// <summary>A data plane's parked pulls over <paramref name="inner"/>, counting its copies.</summary>
    private static (CountingShard Shard, ParkedPulls Pulls) Plane(ParameterShard inner)
    {
        var shard = new CountingShard(inner);
        return (shard, new ParkedPulls(shard));
    }

    /// <summary>Every frame in <paramref name="bytes"/>, each checksum verified.</summary>
    private static List<(FrameHeader Header, byte[] Payload)> Frames(byte[] bytes)
    {
        var hash = new XxHash3();
        var frames = new List<(FrameHeader, byte[])>();
        for (int at = 0; at < bytes.Length;)
        {
            var header = FrameHeader.Read(bytes.AsSpan(at, FrameHeader.Size));
            var payload = bytes.AsSpan(at + FrameHeader.Size, header.Length).ToArray();
            header.BeginChecksum(hash);
            hash.Append(payload);
            header.VerifyChecksum(hash);
            frames.Add((header, payload));
            at += FrameHeader.Size + header.Length;
        }
        return frames;
    }

    /// <summary>A shard that counts the copies of its parameters taken for pulls.</summary>
    private sealed class CountingShard(ParameterShard inner) : IParameterShard
    {
        public int Copies;
        public ShardInfo Info => inner.Info;
        public bool SharedStepPulls => inner.SharedStepPulls;
        public RegisterReply Register(RegisterRequest request) => inner.Register(request);
        public Task WaitForStepAsync(int workerId, long minStep, CancellationToken cancellationToken) => inner.WaitForStepAsync(workerId, minStep, cancellationToken);
        public PullResult CopyParameters(Span<float> destination)
        {
            Copies++;
            return inner.CopyParameters(destination);
        }
        public PushOutcome Admit(in PushHeader header) => inner.Admit(header);
        public PushOutcome Push(in PushHeader header, ReadOnlySpan<float> gradientSum) => inner.Push(header, gradientSum);
        public HeartbeatReply Heartbeat(HeartbeatRequest request) => inner.Heartbeat(request);
        public StatusReply Status() => inner.Status();
    }
}
