using System.Globalization;
using Spectre.Console;

namespace GpuPs.Cli.Bench;

/// <summary>
/// The human table of <c>gpups bench stragglers</c>: one row per run with the few columns a reader compares, and a
/// legend explaining each. The CSV keeps every column of <see cref="StragglerRunRow"/>.
/// </summary>
public static class StragglerTable
{
    private sealed record Column(string Header, string Meaning, Func<StragglerRunRow, StragglerBenchmarkResult, string> Cell);

    private static readonly Column[] Columns =
    [
        new("run", "scheme, and s where the scheme tolerates stragglers", (r, _) => StragglerScheme.Parse(r.Scheme).Label(r.S)),
        new("delay", "straggler model (the unit is the same for every run)", (r, _) => r.Delay),
        new("mean ms", "mean step time after the warm-up steps (shard 0; ASP/SSP: per round of n updates)", (r, _) => Ms(r.MeanMs)),
        new("p99 ms", "99th percentile step time (with a few dozen steps, close to the maximum)", (r, _) => Ms(r.P99Ms)),
        new("bound ms", "expected step under the time model + the scheme's no-delay overhead; coded: first decodable responder set", (r, _) => Ms(r.BoundMs)),
        new("mean/bound", "1 is on the model, above is slower than it", (r, _) => Ratio(r.Ratio)),
        new("bsp/mean", "BSP's mean step under the same delay / this run's (> 1: faster than BSP)",
            (r, all) => all.Find(StragglerScheme.Bsp, 0, r.Delay) is { } bsp ? Ratio(bsp.MeanMs / r.MeanMs) : "-"),
        new("to target s", "seconds from step 0 until the training loss first reaches the target (- never)", (r, _) => r.TimeToTargetS is double t ? t.ToString("F2", CultureInfo.InvariantCulture) : "-"),
    ];

    /// <summary>Writes the table of <paramref name="result"/> and its legend to <paramref name="console"/>.</summary>
    public static void Write(IAnsiConsole console, string title, StragglerBenchmarkResult result)
    {
        var table = new Table().Title(Markup.Escape(title));
        foreach (var c in Columns)
            table.AddColumn(new TableColumn(Markup.Escape(c.Header)) { Alignment = c.Header is "run" or "delay" ? Justify.Left : Justify.Right });
        foreach (var row in result.Rows)
            table.AddRow(Columns.Select(c => Markup.Escape(c.Cell(row, result))).ToArray());
        console.Write(table);
        foreach (var line in Legend())
            console.WriteLine(line);
    }

    /// <summary>One line per column, then where the other columns are.</summary>
    public static IEnumerable<string> Legend() =>
        Columns.Select(c => $"  {c.Header,-12} {c.Meaning}")
            .Append($"  (the CSV has all {typeof(StragglerRunRow).GetProperties().Length} columns: load, s.e., p50, the bound's method and s.e., the model on the run's own draws, bytes, drops, compute, overhead, …)");

    private static string Ms(double ms) => ms.ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>3 significant digits.</summary>
    private static string Ratio(double x) => x.ToString("G3", CultureInfo.InvariantCulture);
}
