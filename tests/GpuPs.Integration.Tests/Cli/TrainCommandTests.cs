using System.Text.Json;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>The README's main job, through the real CLI: the shipped digits data reaches the accuracy a user expects.</summary>
public class TrainCommandTests
{
    [Fact]
    public async Task Softmax_regression_on_digits_reaches_90_percent_test_accuracy()
    {
        var result = await TrainAsync("--model", "softmax", "--accelerator", "cpu");
        Assert.True(result.GetProperty("test_accuracy").GetDouble() >= 0.90, result.ToString());
    }

    [Fact]
    public async Task Mlp_on_digits_reaches_95_percent_test_accuracy()
    {
        var result = await TrainAsync("--model", "mlp", "--optimizer", "adam", "--learning-rate", "0.01", "--accelerator", "simd");
        Assert.True(result.GetProperty("test_accuracy").GetDouble() >= 0.95, result.ToString());
    }

    [Fact]
    public async Task The_result_file_records_every_setting_and_a_command_that_reproduces_the_run()
    {
        var first = await TrainAsync("--mode", "coded", "--stragglers", "1", "--code", "cyclic", "--steps", "30", "--batch-size", "0",
            "--optimizer", "momentum", "--learning-rate", "0.3", "--wire-format", "f32", "--accelerator", "simd");
        string command = first.GetProperty("command").GetString()!;
        Assert.StartsWith("gpups train ", command);
        var settings = first.GetProperty("settings");
        Assert.Equal("momentum", settings.GetProperty("optimizer").GetString());
        Assert.Equal(0.3, settings.GetProperty("learning_rate").GetDouble(), 6);
        Assert.Equal(7, settings.GetProperty("seed").GetInt64());
        Assert.Contains("cyclic", first.GetProperty("code").GetString());

        // Run the recorded command again (into another file): the same job gives the same model.
        var args = command.Split(' ')[2..];
        int output = Array.IndexOf(args, "--output");
        var again = await ResultOfAsync([.. args[..output], .. args[(output + 2)..]]);
        var a = first.GetProperty("parameters").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        var b = again.GetProperty("parameters").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        Assert.Equal(a.Length, b.Length);
        Assert.All(a.Zip(b), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5 + 1e-5 * Math.Abs(p.First), $"{p.First} vs {p.Second}"));
    }

    private static async Task<JsonElement> TrainAsync(params string[] args)
    {
        var root = await ResultOfAsync(["--dataset", "digits", "--workers", "4", "--seed", "7", .. args]);
        Assert.Equal(4, root.GetProperty("workers").GetInt32());
        // The final model is always evaluated; periodic evaluations depend on how many 100 ms polls the run lasts (a
        // 30-step full-batch run can end before the first).
        Assert.True(root.GetProperty("history").GetArrayLength() >= 1);
        return root;
    }

    /// <summary>Runs <c>gpups train</c> with <paramref name="args"/> and a fresh <c>--output</c>; returns the result file.</summary>
    private static async Task<JsonElement> ResultOfAsync(string[] args)
    {
        string output = Path.Combine(Path.GetTempPath(), $"gpups-train-{Guid.NewGuid():N}.json");
        var run = await Gpups.RunAsync(["train", .. args, "--output", output]);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("test acc", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(output));
        File.Delete(output);
        return doc.RootElement.Clone();
    }
}
