using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using GpuPs.Core.Data;
using GpuPs.Integration.Tests.Cli;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// <c>gpups train</c> exports its model as safetensors; <c>gpups evaluate MODEL</c> reads it back to the accuracy train
/// reported, and the README's NumPy snippet, run by a second reader (Python), predicts every row of the raw data set
/// exactly as GpuPs evaluates it — which proves the layer names, shapes, order and the input standardisation.
/// </summary>
public partial class ModelExportTests
{
    [PythonFact]
    public Task An_mlp_on_digits_reads_back_in_numpy() =>
        RoundTripAsync("digits", ["--model", "mlp", "--hidden", "16", "--optimizer", "adam", "--learning-rate", "0.01"]);

    [PythonFact]
    public Task A_logistic_model_on_breast_cancer_reads_back_in_numpy() =>
        RoundTripAsync("breast-cancer", ["--model", "logistic", "--learning-rate", "0.1"]);

    private static async Task RoundTripAsync(string dataset, string[] model)
    {
        string dir = Directory.CreateTempSubdirectory("gpups-export-").FullName;
        try
        {
            string result = Path.Combine(dir, "results", "train.json");
            var trained = await Gpups.RunAsync(["train", "--dataset", dataset, .. model, "--epochs", "3", "--accelerator", "simd", "--output", result]);
            Assert.True(trained.ExitCode == 0, trained.Stderr);
            string exported = Path.Combine(dir, "results", "train.safetensors");
            Assert.True(File.Exists(Path.Combine(dir, "results", "train.meta.json")));
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(result));
            double trainedAccuracy = json.RootElement.GetProperty("test_accuracy").GetDouble();

            // The exported file alone (its recorded job options) gives the accuracy train reported.
            var evaluated = await Gpups.RunAsync("evaluate", exported, "--json");
            Assert.True(evaluated.ExitCode == 0, evaluated.Stderr);
            using var splits = JsonDocument.Parse(evaluated.Stdout);
            var (train, test) = (splits.RootElement.GetProperty("train"), splits.RootElement.GetProperty("test"));
            Assert.Equal(trainedAccuracy, test.GetProperty("accuracy").GetDouble());

            // The README's snippet, unchanged, then every raw row of the data set through its predict().
            var data = DatasetCatalog.Load(dataset, 42);
            Assert.Equal(data.Rows, train.GetProperty("rows").GetInt32() + test.GetProperty("rows").GetInt32());
            string rows = Path.Combine(dir, "rows.csv"), labels = Path.Combine(dir, "labels.txt");
            await File.WriteAllLinesAsync(rows, Enumerable.Range(0, data.Rows).Select(i =>
                string.Join(',', data.Row(i).ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            await File.WriteAllLinesAsync(labels, data.Labels.Select(l => data.ClassNames[l]));
            string script = Path.Combine(dir, "check.py");
            await File.WriteAllTextAsync(script, ReadmeSnippet() + """

                import sys
                x = np.loadtxt(sys.argv[1], delimiter=",", dtype=np.float64, ndmin=2)
                labels = np.array(open(sys.argv[2]).read().split("\n")[:len(x)])
                print(int((predict(tensors, meta, x) == labels).sum()))
                """);
            var (exit, stdout, stderr) = await RunPythonAsync(dir, script, rows, labels);
            Assert.True(exit == 0, stderr);
            int correct = int.Parse(stdout.Trim(), CultureInfo.InvariantCulture);
            int expected = train.GetProperty("correct").GetInt32() + test.GetProperty("correct").GetInt32();
            // float32 sums in another order may flip a row whose two best classes tie to the last bit.
            Assert.InRange(correct, expected - 2, expected + 2);
            Assert.True(correct > 0.8 * data.Rows, $"{correct} of {data.Rows} rows right: the model did not load as trained");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The first Python block of the README's "Exported models" section, as users copy it.</summary>
    private static string ReadmeSnippet()
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        string section = readme[readme.IndexOf("### Exported models", StringComparison.Ordinal)..];
        return PythonBlock().Match(section).Groups[1].Value;
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunPythonAsync(string workingDirectory, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(PythonFactAttribute.Python, args)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex("```python\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonBlock();
}
