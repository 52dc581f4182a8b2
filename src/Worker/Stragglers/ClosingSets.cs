using System.Numerics;
using GpuPs.Core.Coding;

namespace GpuPs.Worker.Stragglers;

/// <summary>
/// Which sets of finished workers close a step, for <see cref="OrderStatisticBound"/>: either any k of the n workers
/// (BSP: k = n; backup: k = n − s), or the responder sets a gradient code decodes — the server closes a coded step as
/// soon as its responders decode, whatever their number (a fractional step closes on one worker per group, which can
/// be fewer than n − s). Immutable and thread-safe (decoding results are cached by the code's decoder).
/// </summary>
public sealed class ClosingSets
{
    /// <summary>Largest n whose 2^n responder sets <see cref="NotClosingFraction"/> decodes one by one: 4,096 sets took
    /// 0.24–0.29 s at n = 12 on 2 busy cores (cyclic and fractional codes), so n = 16 would take several seconds.</summary>
    public const int MaxEnumeratedWorkers = 12;

    private readonly int _k;
    private readonly IGradientCode? _code;
    private readonly Lazy<double[]?> _notClosing;

    private ClosingSets(int workers, int k, IGradientCode? code, string description)
    {
        Workers = workers;
        _k = k;
        _code = code;
        Description = description;
        _notClosing = new Lazy<double[]?>(NotClosing);
    }

    /// <summary>Any <paramref name="k"/> of <paramref name="workers"/> close the step.</summary>
    public static ClosingSets FastestK(int workers, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, workers);
        return new ClosingSets(workers, k, null, $"the {k} fastest of {workers}");
    }

    /// <summary>Every responder set that <paramref name="code"/> decodes closes the step.</summary>
    public static ClosingSets Decodable(IGradientCode code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return new ClosingSets(code.Workers, 0, code, $"the first set the {code.Name} code (n = {code.Workers}, s = {code.Stragglers}) decodes");
    }

    /// <summary>n.</summary>
    public int Workers { get; }

    /// <summary>One phrase for tables and logs, e.g. "the 6 fastest of 8".</summary>
    public string Description { get; }

    /// <summary>True when the workers in <paramref name="finished"/> (bit i: worker i; codes have n ≤ 64) close the step.</summary>
    public bool Closes(ulong finished)
    {
        if (_code is null)
            return BitOperations.PopCount(finished) >= _k;
        var responders = new List<int>(BitOperations.PopCount(finished));
        for (int i = 0; i < Workers; i++)
            if ((finished >> i & 1) != 0) responders.Add(i);
        return _code.Decode(responders).IsDecodable;
    }

    /// <summary>
    /// When the step closes if worker i finishes at <paramref name="finish"/>[i]: the earliest finish time at which the
    /// finished workers close it (for k fastest, the k-th smallest finish time).
    /// </summary>
    /// <exception cref="InvalidOperationException">Not even all n workers close the step (a code that cannot decode).</exception>
    public double CloseTime(ReadOnlySpan<double> finish)
    {
        if (finish.Length != Workers)
            throw new ArgumentException($"{finish.Length} finish times for {Workers} workers", nameof(finish));
        var order = Enumerable.Range(0, Workers).ToArray();
        var times = finish.ToArray();
        Array.Sort(times, order);
        if (_code is null)
            return times[_k - 1];
        ulong finished = 0;
        for (int r = 0; r < Workers; r++)
        {
            finished |= 1UL << order[r];
            if (Closes(finished))
                return times[r];
        }
        throw new InvalidOperationException($"not even all {Workers} workers close a step: {Description}");
    }

    /// <summary>
    /// f_j for j = 0 … n: the fraction of the C(n, j) sets of j finished workers that do not close the step. With i.i.d.
    /// finish times every j-set is equally likely to be the first j finishers, which is what makes the bounds of
    /// <see cref="OrderStatisticBound"/> exact. Any k fastest: f_j = 1 for j &lt; k, else 0. A code: counted over all
    /// 2^n responder sets; null when n exceeds <see cref="MaxEnumeratedWorkers"/>.
    /// </summary>
    public IReadOnlyList<double>? NotClosingFraction => _notClosing.Value;

    private double[]? NotClosing()
    {
        var fraction = new double[Workers + 1];
        if (_code is null)
        {
            Array.Fill(fraction, 1.0, 0, _k);
            return fraction;
        }
        if (Workers > MaxEnumeratedWorkers)
            return null;
        for (ulong set = 0; set < 1UL << Workers; set++)
            if (!Closes(set))
                fraction[BitOperations.PopCount(set)]++;
        for (int j = 0; j <= Workers; j++)
            fraction[j] /= Choose(Workers, j);
        return fraction;
    }

    private static double Choose(int n, int j)
    {
        double c = 1;
        for (int i = 1; i <= j; i++)
            c = c * (n - j + i) / i;
        return Math.Round(c);
    }
}
