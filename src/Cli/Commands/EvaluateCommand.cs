using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups evaluate --shards a.json,b.json [job options]</c>: assembles the model the servers of a deployment wrote
/// (<c>gpups server --output</c>, one slice per shard) and reports its loss and accuracy on the job's training and test
/// splits — the numbers <c>gpups train</c> prints for its embedded cluster.
/// </summary>
public static class EvaluateCommand
{
    /// <summary>The <c>evaluate</c> command.</summary>
    public static Command Create(SettingSources sources)
    {
        var job = new JobOptions(sources);
        var shards = sources.Option<string?>("shards", null, "comma-separated files the servers wrote with --output, any order");
        var command = new Command("evaluate", "Assemble a deployment's model from its servers' --output files and report loss and accuracy on the job's train and test splits.");
        job.AddTo(command);
        command.Options.Add(shards);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            var settings = job.Bind(parse);
            var spec = JobFactory.CreateJob(settings);
            string files = parse.GetValue(shards) ?? throw new SettingsException("--shards is required: the files the servers wrote with --output");
            var parameters = new float[spec.ParameterCount];
            var covered = new bool[spec.ParameterCount];
            foreach (string file in files.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file, ct));
                long offset = doc.RootElement.GetProperty("offset").GetInt64();
                var values = doc.RootElement.GetProperty("parameters").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                if (offset < 0 || offset + values.Length > parameters.Length)
                    throw new SettingsException($"{file}: parameters [{offset}, {offset + values.Length}) do not fit the job's {parameters.Length}");
                values.CopyTo(parameters, (int)offset);
                Array.Fill(covered, true, (int)offset, values.Length);
            }
            int missing = Array.IndexOf(covered, false);
            if (missing >= 0) throw new SettingsException($"no shard file covers parameter {missing}: give every server's --output file");

            var data = PreparedData.Prepare(spec.Dataset, spec.TestFraction, spec.Seed);
            using var evaluator = new ModelEvaluator(data, spec.Model);
            var (train, test) = evaluator.Evaluate(parameters);
            var table = new Table().AddColumns("split", "rows", "mean loss", "accuracy");
            table.AddRow("train", train.Rows.ToString(CultureInfo.InvariantCulture), train.MeanLoss.ToString("F4", CultureInfo.InvariantCulture), train.Accuracy.ToString("F4", CultureInfo.InvariantCulture));
            table.AddRow("test", test.Rows.ToString(CultureInfo.InvariantCulture), test.MeanLoss.ToString("F4", CultureInfo.InvariantCulture), test.Accuracy.ToString("F4", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
