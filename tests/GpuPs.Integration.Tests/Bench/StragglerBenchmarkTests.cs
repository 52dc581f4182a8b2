using System.Globalization;
using GpuPs.Cli.Bench;
using GpuPs.Cli.Commands;
using Serilog;
using Spectre.Console;

namespace GpuPs.Integration.Tests.Bench;

/// <summary>
/// Smoke test of <c>gpups bench stragglers</c> on a tiny grid: the rows, CSV and plots are produced and sane. Nothing
/// here is timed against a threshold — the machine's load decides timings.
/// </summary>
public class StragglerBenchmarkTests
{
    private static readonly StragglerBenchmarkOptions Tiny = new()
    {
        Workers = 4,
        Stragglers = [1, 2],
        Schemes = [StragglerScheme.Bsp, StragglerScheme.CodedFractional, StragglerScheme.CodedCyclic, StragglerScheme.MultiMessage, StragglerScheme.Asp],
        Delays = ["none", "persistent:workers=1,factor=5"],
        Steps = 6,
        UnitSeconds = 0.005,
        Dataset = "synthetic:rows=800,features=10,classes=2,separation=2",
    };

    [Fact]
    public async Task Tiny_grid_writes_sane_rows_csv_and_plots()
    {
        var dir = Directory.CreateTempSubdirectory("gpups-bench-stragglers-");
        try
        {
            var lines = new List<string>();
            var result = await StragglerBenchmark.RunAsync(Tiny, lines.Add, Log.Logger, CancellationToken.None);

            // bsp, asp: once; fractional: s = 1 only ((s+1) | 4); cyclic, multi-message: s = 1, 2 — per delay model.
            Assert.Equal(2 * (2 + 1 + 2 + 2), result.Rows.Count);
            Assert.Contains(result.Skipped, s => s.StartsWith("coded-fractional s=2", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("estimated total", StringComparison.Ordinal));
            foreach (var row in result.Rows)
            {
                Assert.True(row.MeanMs > 0 && row.P50Ms > 0 && row.P99Ms >= row.P50Ms, $"{row}");
                Assert.True(row.BoundMs > 0 && double.IsFinite(row.Ratio), $"{row}");
                Assert.Equal(row.Scheme is "coded-cyclic" or "coded-fractional" or "multi-message" ? row.S + 1 : 1, row.Load);
                Assert.True(row.BytesPushed > 0 && row.TestAccuracy > 0.5, $"{row}");
            }
            // The no-delay rows calibrate the overhead, so their bound is their mean unless the model alone exceeds it.
            Assert.All(result.Rows.Where(r => r.Delay == "none" && r.OverheadMs > 0), r => Assert.Equal(1, r.Ratio, 6));
            Assert.False(double.IsNaN(result.TargetLoss));
            // Worker 1 is in fractional s = 1's group {0, 1}: the first decodable set never waits for it, so its bound is
            // the no-delay one and it gets the persistent verdicts; every coded cell gets the bound verdict.
            var fractional = result.Find(StragglerScheme.CodedFractional, 1, "persistent:workers=1,factor=5")!;
            Assert.Equal("decodable", fractional.BoundMethod);
            var verdicts = StragglerTargets.Summarize(result);
            Assert.Contains(verdicts, l => l.Contains("persistent:workers=1,factor=5: coded-fractional s=1 mean step", StringComparison.Ordinal)
                                           && l.Contains("its no-delay", StringComparison.Ordinal));
            Assert.Contains(verdicts, l => l.Contains("persistent:workers=1,factor=5: bsp / coded-cyclic s=2 = ", StringComparison.Ordinal)
                                           && l.Contains("model value", StringComparison.Ordinal));
            Assert.Contains(verdicts, l => l.Contains("every delay: ", StringComparison.Ordinal) && l.Contains("coded cells' mean step", StringComparison.Ordinal));

            var text = new StringWriter();
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text) });
            console.Profile.Width = 200;
            StragglerTable.Write(console, "stragglers", result);
            var csv = Path.Combine(dir.FullName, "stragglers.csv");
            BenchOutput.WriteCsv(console, csv, result.Rows);
            var printed = text.ToString();
            foreach (var header in new[] { "run", "delay", "mean ms", "p99 ms", "bound ms", "mean/bound", "bsp/mean", "to target s" })
                Assert.Contains($"  {header,-12} ", printed); // the legend explains every column
            Assert.Contains("coded-fractional s=1", printed);
            var csvLines = File.ReadAllLines(csv);
            Assert.Equal(result.Rows.Count + 1, csvLines.Length);
            Assert.StartsWith("Scheme,S,Delay,Load,K,MeanMs", csvLines[0], StringComparison.Ordinal);
            Assert.Contains("BoundSemMs,BoundMethod", csvLines[0], StringComparison.Ordinal);
            Assert.Contains(csvLines, l => l.StartsWith("coded-cyclic,2,", StringComparison.Ordinal)
                                           && double.Parse(l.Split(',')[5], CultureInfo.InvariantCulture) > 0);

            var plots = StragglerPlots.Write(result, dir.FullName);
            Assert.Contains(plots, p => Path.GetFileName(p) == "stragglers-steps-none.png");
            Assert.Contains(plots, p => Path.GetFileName(p).StartsWith("stragglers-loss-persistent", StringComparison.Ordinal));
            Assert.Contains(plots, p => Path.GetFileName(p) == "stragglers-regime.png");
            Assert.All(plots, p => Assert.True(new FileInfo(p).Length > 1000, p));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
