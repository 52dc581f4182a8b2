namespace GpuPs.Worker.Stragglers;

/// <summary>
/// Stateless random draws: every value is a pure function of (seed, purpose, a, b), so a run is reproducible whatever
/// the thread timing and call order, and no RNG state is shared between workers. System.Random is avoided because its
/// sequence for a given seed is not guaranteed across .NET versions.
/// </summary>
internal static class SeededDraw
{
    /// <summary>Separates the independent random streams one seed feeds.</summary>
    public enum Purpose : ulong { StepDelay = 1, ChooseWorkers = 2 }

    private const ulong Golden = 0x9E3779B97F4A7C15; // 2^64 / φ, SplitMix64's increment

    /// <summary>64 well-mixed bits. Each input goes through the SplitMix64 finaliser before being folded in, so
    /// neighbouring (worker, step) pairs give unrelated outputs.</summary>
    public static ulong Bits(ulong seed, Purpose purpose, long a, long b)
    {
        unchecked // wrap-around is the point of the multiplications
        {
            var h = Mix(seed ^ Mix((ulong)purpose * Golden));
            h = Mix(h ^ Mix((ulong)a + 2 * Golden));
            return Mix(h ^ Mix((ulong)b + 3 * Golden));
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits (a double's full mantissa).</summary>
    public static double Uniform(ulong seed, Purpose purpose, long a, long b) =>
        (Bits(seed, purpose, a, b) >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, bound), by multiply-shift (bias below 2^-32 for the worker counts used here).</summary>
    public static int Below(int bound, ulong seed, Purpose purpose, long a, long b) =>
        (int)(((Bits(seed, purpose, a, b) >> 32) * (ulong)bound) >> 32);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
