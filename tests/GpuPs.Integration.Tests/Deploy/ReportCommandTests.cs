using System.Text.Json;
using GpuPs.Integration.Tests.Cli;
using SkiaSharp;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// <c>gpups report DIR</c> over a real train result (backup mode with one persistent straggler, so a worker's steps are
/// abandoned), the straggler benchmark's CSV, `bench gpu`'s CSV from the H100 and a link-utilisation CSV: every plot is a PNG with drawn content (not a
/// blank canvas), the timeline shows the abandoned steps in red, and the summary carries the runs' figures.
/// </summary>
public class ReportCommandTests
{
    [Fact]
    public async Task Report_draws_plots_with_content_and_a_summary_with_the_figures()
    {
        string dir = Directory.CreateTempSubdirectory("gpups-report-").FullName;
        try
        {
            var trained = await Gpups.RunAsync("train", "--mode", "backup", "--stragglers", "1", "--straggler-model", "persistent:workers=0,delay=1",
                "--steps", "60", "--accelerator", "simd", "--quiet", "--output", Path.Combine(dir, "backup.json"));
            Assert.True(trained.ExitCode == 0, trained.Stderr);
            File.Copy(Path.Combine(Repository.Root, "docs", "results", "bench-stragglers-bimodal-600.csv"), Path.Combine(dir, "stragglers.csv"));
            File.Copy(Path.Combine(Repository.Root, "docs", "results", "gpu-h100-2026-11-26", "bench-gpu.csv"), Path.Combine(dir, "gpu.csv"));
            await File.WriteAllTextAsync(Path.Combine(dir, "links.csv"), "Link,Utilisation,Bytes\nworker0-server0,0.62,1000\nworker1-server0,0.31,500\n");
            string output = Path.Combine(dir, "out");

            var report = await Gpups.RunAsync("report", dir, "--output", output);

            Assert.True(report.ExitCode == 0, report.Stderr);
            string[] pngs = Directory.GetFiles(output, "*.png");
            Assert.Equal(["gpu-steps.png", "links-utilisation.png", "loss-vs-time.png", "step-times.png", "stragglers-steps.png", "timeline-1-backup.png"],
                pngs.Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (string png in pngs) AssertDrawn(png);
            string summary = await File.ReadAllTextAsync(Path.Combine(output, "report.md"));
            int red = CountPixels(Path.Combine(output, "timeline-1-backup.png"), c => c.Red > 200 && c.Green < 60 && c.Blue < 60);
            Assert.True(red > 100, $"the timeline shows {red} red (abandoned) pixels; the report's worker rows:\n"
                + string.Join("\n", summary.Split('\n').Where(l => l.StartsWith("| 0 |") || l.StartsWith("| 1 |"))));

            using var result = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "backup.json")));
            string accuracy = result.RootElement.GetProperty("test_accuracy").GetDouble().ToString("F4", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains($"| backup.json | backup | 4 | ", summary);
            Assert.Contains($" | {accuracy} | ", summary);
            // Worker 0 abandoned steps; its mean is blank when it abandoned every one (the usual case over the TCP data plane).
            Assert.Matches(@"\| 0 \| \d+ \| [\d.]* \| \d+ \| [1-9]\d* \|", summary);
            Assert.Contains("| coded-fractional | 1 | none | 2 | 7 | 43.687 |", summary);   // the CSV's first row, as a table
            Assert.Contains("![Link utilisation (Utilisation)](links-utilisation.png)", summary);
            Assert.Contains("![Time per measurement (mean, p50, p99)](gpu-steps.png)", summary);   // bench gpu's CSV: one bar group per measurement
            foreach (string png in pngs) Assert.Contains($"({Path.GetFileName(png)})", summary);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task A_folder_with_nothing_to_report_is_a_clear_error()
    {
        string dir = Directory.CreateTempSubdirectory("gpups-report-empty-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "notes.json"), """{"hello": 1}""");
            var report = await Gpups.RunAsync("report", dir);
            Assert.Equal(2, report.ExitCode);
            Assert.Contains("holds no train result", report.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>A PNG that decodes, and whose pixels are not one background colour: at least 2 % differ from the corner's.</summary>
    private static void AssertDrawn(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{path} is not a PNG");
        using var bitmap = SKBitmap.Decode(bytes) ?? throw new Xunit.Sdk.XunitException($"{path} does not decode");
        var background = bitmap.GetPixel(0, 0);
        int drawn = CountPixels(bitmap, c => c != background);
        Assert.True(drawn > bitmap.Width * bitmap.Height / 50, $"{path}: only {drawn} of {bitmap.Width * bitmap.Height} pixels drawn");
    }

    private static int CountPixels(string path, Func<SKColor, bool> match)
    {
        using var bitmap = SKBitmap.Decode(path);
        return CountPixels(bitmap, match);
    }

    private static int CountPixels(SKBitmap bitmap, Func<SKColor, bool> match)
    {
        int count = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (match(bitmap.GetPixel(x, y))) count++;
        return count;
    }
}
