using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Commands;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// What scripts and people rely on in every command: help that shows defaults as they are typed and ends with examples,
/// a warning (with a suggestion) for a misspelled <c>GPUPS_*</c> variable, <c>--json</c> and <c>--quiet</c> output, text
/// CSV labels end to end, and an ETA on progress lines.
/// </summary>
public partial class CliConventionsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("train")]
    [InlineData("server")]
    [InlineData("worker")]
    [InlineData("aggregator")]
    [InlineData("bench")]
    [InlineData("bench kernels")]
    [InlineData("bench wire")]
    [InlineData("bench aggregation")]
    [InlineData("bench load")]
    [InlineData("bench network")]
    [InlineData("bench stragglers")]
    [InlineData("codes")]
    [InlineData("status")]
    [InlineData("evaluate")]
    [InlineData("report")]
    [InlineData("health")]
    public async Task Help_shows_lowercase_defaults_and_ends_with_examples(string command)
    {
        var help = await Gpups.RunAsync([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);

        Assert.Equal(0, help.ExitCode);
        Assert.DoesNotMatch(CapitalisedDefault(), help.Stdout);
        string examples = help.Stdout[(help.Stdout.IndexOf("Examples:", StringComparison.Ordinal) + 1)..];
        Assert.True(help.Stdout.Contains("Examples:", StringComparison.Ordinal), $"gpups {command} --help has no examples:\n{help.Stdout}");
        var lines = examples.Split('\n').Skip(1).Where(l => l.Trim().Length > 0).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Contains("gpups ", l));
    }

    [Fact]
    public async Task Enum_defaults_are_shown_as_they_are_typed()
    {
        var help = await Gpups.RunAsync("train", "--help");

        Assert.Contains("[env GPUPS_MODE] [default: bsp]", help.Stdout);
        Assert.Contains("[env GPUPS_OPTIMIZER] [default: sgd]", help.Stdout);
        Assert.Contains("[env GPUPS_ACCELERATOR] [default: auto]", help.Stdout);
    }

    [Fact]
    public async Task A_misspelled_variable_is_named_with_the_nearest_setting_and_a_known_one_is_not()
    {
        var run = await Gpups.RunAsync(new Dictionary<string, string> { ["GPUPS_LEARNIN_RATE"] = "0.1", ["GPUPS_WORKERS"] = "3", ["GPUPS_ZZQX"] = "1" },
            "codes", "--stragglers", "1");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("warning: environment variable GPUPS_LEARNIN_RATE is not a gpups setting and is ignored (did you mean GPUPS_LEARNING_RATE?)", run.Stderr);
        Assert.Contains("warning: environment variable GPUPS_ZZQX is not a gpups setting and is ignored\n", run.Stderr.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("GPUPS_WORKERS", run.Stderr);
        Assert.Contains("n = 3", run.Stdout);   // the known variable took effect
    }

    [Fact]
    public async Task Train_on_text_labels_prints_json_only_and_quiet_prints_nothing()
    {
        string dir = Directory.CreateTempSubdirectory("gpups-cli-").FullName;
        try
        {
            // Two well-separated classes, labelled by name, with a header line.
            string csv = Path.Combine(dir, "flowers.csv");
            var random = new Random(7);
            await File.WriteAllLinesAsync(csv, Enumerable.Range(0, 200).Select(i => i % 2 == 0
                ? $"{random.NextDouble():F3},{random.NextDouble():F3},rosa"
                : $"{3 + random.NextDouble():F3},{3 + random.NextDouble():F3},iris").Prepend("petal,sepal,species"));
            string[] job = ["train", "--dataset", $"csv:{csv}", "--model", "logistic", "--workers", "2", "--steps", "20", "--accelerator", "simd"];

            var json = await Gpups.RunAsync([.. job, "--json", "--output", Path.Combine(dir, "a.json")]);
            Assert.True(json.ExitCode == 0, json.Stderr);
            using var summary = JsonDocument.Parse(json.Stdout);   // stdout is the JSON document and nothing else
            Assert.True(summary.RootElement.GetProperty("test_accuracy").GetDouble() >= 0.95, json.Stdout);
            string model = summary.RootElement.GetProperty("model").GetString()!;
            using var meta = JsonDocument.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(model, ".meta.json")));
            Assert.Equal(["iris", "rosa"], meta.RootElement.GetProperty("class_names").EnumerateArray().Select(e => e.GetString()));

            var quiet = await Gpups.RunAsync([.. job, "--quiet", "--output", Path.Combine(dir, "b.json")]);
            Assert.True(quiet.ExitCode == 0, quiet.Stderr);
            Assert.Equal("", quiet.Stdout);
            Assert.True(File.Exists(Path.Combine(dir, "b.safetensors")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Progress_lines_give_the_time_left_at_the_pace_so_far()
    {
        var lines = new StringWriter();
        var progress = new ConsoleTrainingProgress(null, lines);

        progress.Started(100, "softmax on digits");
        progress.Evaluated(new EpochRecord(1, 25, 10.0, 0.5, 0.9, 0.5, 0.9));
        progress.Evaluated(new EpochRecord(2, 50, 12.0, 0.3, 0.93, 0.3, 0.93));
        progress.Evaluated(new EpochRecord(4, 100, 40.0, 0.2, 0.95, 0.2, 0.95));

        var printed = lines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("(10.0 s, ETA 30 s)", printed[1]);   // 25 of 100 steps in 10 s (start-up included): 75 more take 30 s
        Assert.Contains("(12.0 s, ETA 4 s)", printed[2]);    // since the first evaluation 25 steps in 2 s: 50 more take 4 s
        Assert.DoesNotContain("ETA", printed[3]);            // done
    }

    [GeneratedRegex(@"\[default: [A-Z]")]
    private static partial Regex CapitalisedDefault();
}
