using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>
/// The seeded constructions of B must be the same on every node, so the generator must be SplitMix64 exactly: its
/// published reference outputs (Vigna's splitmix64.c, seed 1234567), and the doubles and Gaussians derived from them.
/// </summary>
public class SplitMix64Tests
{
    private static readonly ulong[] Reference = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];

    [Fact]
    public void TheSequenceIsTheReferenceImplementations()
    {
        var rng = new SplitMix64(1234567);
        Assert.Equal(Reference, Reference.Select(_ => rng.NextUInt64()));
    }

    [Fact]
    public void DoublesAreTheTop53BitsOverTwoToThe53()
    {
        var rng = new SplitMix64(1234567);
        Assert.Equal(Reference.Select(x => (x >> 11) / 9007199254740992.0), Reference.Select(_ => rng.NextDouble()));
    }

    [Fact]
    public void GaussiansAreBoxMullerOfTwoDoublesKeepingTheCosine()
    {
        var rng = new SplitMix64(1234567);
        for (int k = 0; k + 1 < Reference.Length; k += 2)
        {
            double u1 = 1 - (Reference[k] >> 11) / 9007199254740992.0, u2 = (Reference[k + 1] >> 11) / 9007199254740992.0;
            Assert.Equal(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2), rng.NextGaussian(), 15);
        }
    }
}
