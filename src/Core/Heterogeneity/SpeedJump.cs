namespace GpuPs.Core.Heterogeneity;

/// <summary>
/// The fast path for a large, lasting change of one worker's speed (a co-tenant arrives, a device throttles): each of
/// the worker's last <see cref="Reports"/> step reports, taken alone as its speed, moves its share of the total speed
/// beyond the threshold, all the same way. <see cref="ShareDrift"/> waits for the median of
/// <see cref="SpeedEstimates.RecentReports"/> reports to move (3 slow reports) and then for
/// <see cref="ShareDrift.Patience"/> drifting steps — the same slow reports counted twice: 5 reports after the change.
/// Here each report is held to a single report's noise (<see cref="NoiseThreshold"/>), so no median has to move first,
/// and the three must agree in direction, which noise alone does at odds of p³ for a report's odds p. Pure and thread-safe.
/// </summary>
public static class SpeedJump
{
    /// <summary>
    /// Reports in a row: 3. Two would follow bursts: the smallest cgroup quota had runs of 2-3 steps at 1.8-2.3× its
    /// median compute on this machine under load (docs/benchmarks.md, sixth session), and a rebalance that follows one
    /// costs two reloads (there and back). Simulated (<c>RebalanceStabilityTests</c>, ±10 % noise and a 2-step burst at
    /// 1/2.2 speed every 10 steps): with 2 reports 3 of 6 seeds rebalanced on the bursts, with 3 none.
    /// </summary>
    public const int Reports = 3;

    /// <summary>
    /// Standard errors a report must be beyond: 3, below <see cref="ShareDrift.NoiseZ"/>'s 4 because three reports must
    /// all be (a normal report's one-sided odds 0.13 %, three in a row 2·10⁻⁹). With 4 and σ taken from windows of 5
    /// reports (themselves ±35 % off), a 4× drop among 4 workers at ±20 % noise was missed for 1-2 steps in 3 of 6 seeds.
    /// </summary>
    public const double NoiseZ = 3;

    /// <summary>
    /// A single report's noise threshold: <see cref="NoiseZ"/> standard errors of one report less the median of
    /// <paramref name="window"/> reports the assigned speed came from, σ · √(1 + π / (2 · window)), with σ the median of
    /// the other judged workers' relative spreads (the candidate's own window holds its change). At ±20 % uniform noise
    /// (σ 0.115) and a window of 5: 40 %, below the 64-69 % share change of a 4× drop among 3-4 workers; a single ±20 %
    /// report moves a share by at most 16 % (4 workers), under the 25 % drift threshold, which also applies.
    /// </summary>
    /// <param name="spreads">The other workers' relative spreads (<see cref="SpeedEstimates.Spread"/>).</param>
    /// <param name="window">Reports the assigned speeds' medians were taken over.</param>
    public static double NoiseThreshold(IEnumerable<double> spreads, int window)
    {
        var sorted = spreads.Order().ToArray();
        if (sorted.Length == 0) return 0;
        int m = sorted.Length / 2;
        double sigma = sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
        return NoiseZ * sigma * Math.Sqrt(1 + Math.PI / (2.0 * window));
    }

    /// <summary>
    /// The judged worker whose last <see cref="Reports"/> reports each move its share by more than the larger of
    /// <paramref name="threshold"/> and the others' noise (<see cref="NoiseThreshold"/>) the same way, with the median of
    /// those reports as its new speed and the threshold it passed (the one whose median moves its share most, when
    /// several do); null when none does.
    /// </summary>
    /// <param name="assigned">The speeds the assignment in force is proportional to.</param>
    /// <param name="estimates">The workers' current (clamped) speed estimates, same order; every other worker keeps its own.</param>
    /// <param name="newest">Per worker, its newest reports measured on the assignment in force, oldest first (fewer than
    /// <see cref="Reports"/>: not judged here).</param>
    /// <param name="judged">Per worker, whether its share counts (not an idle or evicted worker's).</param>
    /// <param name="spreads">Per worker, its reports' relative spread (<see cref="SpeedEstimates.Spread"/>).</param>
    /// <param name="window">Reports the assigned speeds' medians were taken over.</param>
    /// <param name="threshold">The least relative share change that counts (the drift threshold).</param>
    public static (int Worker, double Speed, double Change, double Threshold)? Find(IReadOnlyList<double> assigned, IReadOnlyList<double> estimates,
        IReadOnlyList<IReadOnlyList<double>> newest, IReadOnlyList<bool> judged, IReadOnlyList<double> spreads, int window, double threshold)
    {
        ArgumentNullException.ThrowIfNull(newest);
        ArgumentNullException.ThrowIfNull(spreads);
        if (newest.Count != estimates.Count || spreads.Count != estimates.Count) throw new ArgumentException("one list of reports and one spread per worker");
        (int Worker, double Speed, double Change, double Threshold)? found = null;
        var trial = estimates.ToArray();
        for (int i = 0; i < trial.Length; i++)
        {
            if (!judged[i] || newest[i].Count < Reports) continue;
            var last = newest[i].Skip(newest[i].Count - Reports).ToArray();
            int self = i;
            double passed = Math.Max(threshold, NoiseThreshold(Enumerable.Range(0, trial.Length).Where(j => j != self && judged[j]).Select(j => spreads[j]), window));
            var changes = last.Select(r => ChangeWith(self, r)).ToArray();
            bool all = changes.All(c => c > passed) || changes.All(c => c < -passed);
            if (!all) continue;
            double speed = last.Order().ElementAt(Reports / 2), change = ChangeWith(i, speed);
            if (found is null || Math.Abs(change) > Math.Abs(found.Value.Change)) found = (i, speed, change, passed);
        }
        return found;

        double ChangeWith(int worker, double report)
        {
            double kept = trial[worker];
            trial[worker] = report;
            double change = ShareDrift.ShareChangeOf(worker, assigned, trial, judged);
            trial[worker] = kept;
            return change;
        }
    }
}
