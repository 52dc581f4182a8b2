using GpuPs.Core.Heterogeneity;

namespace GpuPs.Core.Tests.Heterogeneity;

public class ShareOffsetTests
{
    private static readonly bool[] All3 = [true, true, true];

    /// <summary>Feeds steps <paramref name="from"/>..<paramref name="to"/> (exclusive); returns the first proposal and its step.</summary>
    private static (long Step, double[] Speeds)? Feed(ShareOffset offset, double[] assigned, bool[] judged, long from, long to, Func<int, long, double> speed)
    {
        for (long step = from; step < to; step++)
        {
            for (int i = 0; i < assigned.Length; i++) offset.Add(i, step, speed(i, step));
            if (offset.Proposal(assigned, judged, out _, out _) is { } proposal) return (step, proposal);
        }
        return null;
    }

    [Fact]
    public void The_sign_test_needs_18_of_20_and_25_of_30_steps_on_one_side_and_10_steps_cannot_pass_it()
    {
        Assert.Equal(11, ShareOffset.SignsNeeded(10));
        Assert.Equal(18, ShareOffset.SignsNeeded(20));
        Assert.Equal(25, ShareOffset.SignsNeeded(30));
    }

    [Fact]
    public void A_share_that_is_off_every_step_is_found_through_larger_step_to_step_noise_and_corrected()
    {
        // Worker 2 is 15 % slower than assigned; every report ±10 % at random, and the whole machine's speed swings ±40 %
        // from step to step (it cancels: a step is compared with itself).
        var noise = new Random(3);
        var offset = new ShareOffset(3);
        double[] assigned = [100, 100, 100], truth = [100, 100, 85];

        var found = Feed(offset, assigned, All3, 0, 60, (i, step) => truth[i] * (1 + (step % 3 - 1) * 0.4) * (1 + noise.NextDouble() * 0.2 - 0.1));

        Assert.NotNull(found);
        Assert.Equal(19, found.Value.Step);   // the look at 20 steps (the one at 10 cannot pass the sign test)
        var shares = found.Value.Speeds.Select(v => v / found.Value.Speeds.Sum()).ToArray();
        for (int i = 0; i < 3; i++) Assert.InRange(shares[i] / (truth[i] / truth.Sum()), 0.96, 1.04);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Noise_alone_is_no_offset_in_400_steps(int seed)
    {
        var noise = new Random(seed);
        var offset = new ShareOffset(4);

        Assert.Null(Feed(offset, [100, 100, 100, 100], [true, true, true, true], 0, 400, (_, _) => 100 * (1 + noise.NextDouble() * 0.4 - 0.2)));
    }

    [Fact]
    public void A_small_offset_or_too_few_steps_is_none_and_unjudged_workers_do_not_count()
    {
        var offset = new ShareOffset(3);
        // 4 % off with no noise: below the 5 % worth a version.
        Assert.Null(Feed(offset, [100, 100, 100], All3, 0, 40, (i, _) => i == 2 ? 96 : 100));

        // 30 % off but only 9 steps.
        offset.Clear();
        Assert.Null(Feed(offset, [100, 100, 100], All3, 0, 9, (i, _) => i == 2 ? 70 : 100));

        // Worker 2 is idle (not judged): whatever it reports, the others are right and it keeps its assigned speed.
        offset.Clear();
        Assert.Null(Feed(offset, [100, 100, 100], [true, true, false], 0, 40, (i, _) => i == 2 ? 5 : 100));
    }
}
