using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Models;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups evaluate</c>: the loss and accuracy, on the job's training and test splits, of an exported model
/// (<c>gpups evaluate FILE.safetensors</c>, as <c>gpups train</c> or a lone server writes it; its recorded job options define
/// the data) or of a deployment's model assembled from its servers' <c>--output</c> slices (<c>--shards a,b</c>, JSON or
/// safetensors, with the job options). <c>--export</c> writes the assembled model as safetensors.
/// </summary>
public static class EvaluateCommand
{
    /// <summary>The <c>evaluate</c> command.</summary>
    public static Command Create(SettingSources sources)
    {
        var job = new JobOptions(sources);
        var shards = sources.Option<string?>("shards", null, "comma-separated files the servers wrote with --output (.json or .safetensors), any order");
        var model = new Argument<string?>("MODEL")
        {
            Description = "an exported model (.safetensors from gpups train or gpups server --output); the job options recorded in it define the data",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var export = sources.Option<string?>("export", null, "write the evaluated model here as safetensors with a .meta.json sidecar (e.g. to assemble a multi-shard deployment's model)");
        var json = sources.Option("json", false, "print the result as JSON on stdout, for scripts");
        var command = new Command("evaluate", "Report the loss and accuracy of an exported model, or of a deployment's model assembled from its servers' --output files, on the job's train and test splits.");
        job.AddTo(command);
        command.Arguments.Add(model);
        command.Options.Add(shards);
        command.Options.Add(export);
        command.Options.Add(json);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            string? modelPath = parse.GetValue(model), shardFiles = parse.GetValue(shards), exportPath = parse.GetValue(export);
            if ((modelPath is null) == (shardFiles is null))
                throw new SettingsException("give either MODEL (an exported .safetensors model) or --shards a,b (the servers' --output files, with the job options)");
            if (exportPath is not null && !ModelExports.IsSafetensors(exportPath)) throw new SettingsException($"--export {exportPath}: give a .safetensors file name");
            if (exportPath is not null) ResultFile.CheckWritable(exportPath, "--export");

            ExportedModel? exported = modelPath is null ? null : ReadModel(modelPath);
            var settings = exported is null ? job.Bind(parse) : JobOptions.FromArguments(exported.JobArguments);
            var spec = JobFactory.CreateJob(settings);
            if (exported is not null && (exported.Shape != spec.Model || !exported.IsWhole))
                throw new SettingsException($"{modelPath}: {(exported.IsWhole ? $"a {Describe(exported.Shape)} model, but its job defines {Describe(spec.Model)}" : $"shard {exported.Shard} of {exported.Shards} only; give every shard's file with --shards")}");
            var parameters = exported?.Parameters ?? await AssembleAsync(shardFiles!, spec.ParameterCount, ct);

            var data = PreparedData.Prepare(spec.Dataset, spec.TestFraction, spec.Seed);
            using var evaluator = new ModelEvaluator(data, spec.Model);
            var (train, test) = evaluator.Evaluate(parameters);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { Train = train, Test = test }, ResultJson.Options));
            else AnsiConsole.Write(Table(train, test));
            if (exportPath is not null)
            {
                ModelFile.Write(exportPath, ModelExports.Of(settings, spec.Model, data, parameters, 0, exported?.Step ?? -1));
                if (!parse.GetValue(json)) Console.WriteLine($"model written to {Path.GetFullPath(exportPath)}");
            }
            return 0;
        }));
        return command;
    }

    private static Table Table(Kernels.EvaluationResult train, Kernels.EvaluationResult test)
    {
        var table = new Table().AddColumns("split", "rows", "mean loss", "accuracy");
        table.AddRow("train", train.Rows.ToString(CultureInfo.InvariantCulture), train.MeanLoss.ToString("F4", CultureInfo.InvariantCulture), train.Accuracy.ToString("F4", CultureInfo.InvariantCulture));
        table.AddRow("test", test.Rows.ToString(CultureInfo.InvariantCulture), test.MeanLoss.ToString("F4", CultureInfo.InvariantCulture), test.Accuracy.ToString("F4", CultureInfo.InvariantCulture));
        return table;
    }

    private static string Describe(Kernels.ModelShape s) =>
        $"{s.Kind.ToString().ToLowerInvariant()} ({s.Features} features, {s.Classes} classes{(s.Kind == Kernels.ModelKind.Mlp ? $", {s.Hidden} hidden" : "")})";

    private static ExportedModel ReadModel(string path)
    {
        try { return ModelFile.Read(path); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException) { throw new SettingsException(e.Message); }
    }

    /// <summary>The offset and values of a JSON slice <c>gpups server --output</c> wrote (shard, offset, step, parameters).</summary>
    /// <exception cref="SettingsException">The text is not such a slice: not JSON, or without a whole-number offset and an array of numbers.</exception>
    private static (long Offset, float[] Values) ReadJsonSlice(string file, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return (doc.RootElement.GetProperty("offset").GetInt64(),
                doc.RootElement.GetProperty("parameters").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SettingsException($"{file}: not a shard file of gpups server --output (JSON with \"offset\" and \"parameters\"): {e.Message}");
        }
    }

    /// <summary>The flat parameter vector from every shard's slice; each value must be covered.</summary>
    private static async Task<float[]> AssembleAsync(string files, long count, CancellationToken ct)
    {
        var parameters = new float[count];
        var covered = new bool[count];
        foreach (string file in files.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            long offset;
            float[] values;
            if (ModelExports.IsSafetensors(file))
            {
                var slice = ReadModel(file);
                (offset, values) = (slice.Offset, slice.Parameters);
            }
            else (offset, values) = ReadJsonSlice(file, await File.ReadAllTextAsync(file, ct));
            if (offset < 0 || offset + values.Length > parameters.Length)
                throw new SettingsException($"{file}: parameters [{offset}, {offset + values.Length}) do not fit the job's {parameters.Length}");
            values.CopyTo(parameters, (int)offset);
            Array.Fill(covered, true, (int)offset, values.Length);
        }
        int missing = Array.IndexOf(covered, false);
        if (missing >= 0) throw new SettingsException($"no shard file covers parameter {missing}: give every server's --output file");
        return parameters;
    }
}
