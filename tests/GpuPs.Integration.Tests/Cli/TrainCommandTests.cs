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

    private static async Task<JsonElement> TrainAsync(params string[] args)
    {
        string output = Path.Combine(Path.GetTempPath(), $"gpups-train-{Guid.NewGuid():N}.json");
        var run = await Gpups.RunAsync(["train", "--dataset", "digits", "--workers", "4", "--seed", "7", "--output", output, .. args]);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("test acc", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(output));
        File.Delete(output);
        var root = doc.RootElement.Clone();
        Assert.Equal(4, root.GetProperty("workers").GetInt32());
        Assert.True(root.GetProperty("history").GetArrayLength() > 1);
        return root;
    }
}
