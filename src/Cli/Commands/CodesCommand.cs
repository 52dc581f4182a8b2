using System.CommandLine;
using System.Globalization;
using GpuPs.Cli.Settings;
using GpuPs.Core.Coding;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups codes</c>: shows a gradient code — assignment, matrix B and its measured conditioning — so users can inspect it.</summary>
public static class CodesCommand
{
    public static Command Create(SettingSources sources)
    {
        var workers = sources.Option("workers", 8, "n: number of workers");
        var stragglers = sources.Option("stragglers", 2, "s: stragglers to tolerate");
        var code = sources.Option("code", "auto", "fractional | cyclic | uncoded | auto | hetero | hetero-optimal (s = 1)");
        var speeds = sources.Option("speeds", "", "relative worker speeds for hetero and hetero-optimal (or uncoded: proportional partitions), e.g. 1,2,4; empty: equal");
        var seed = sources.Option("seed", 42UL, "seed of the float32 decode-error measurement");
        var json = new Option<bool>("--json") { Description = "print the description as JSON" };
        var command = new Command("codes", "Print a gradient code's partition assignment, its matrix B, and its worst float32 decode error over every responder set a step can close on (exhaustive, never sampled).");
        foreach (var o in new Option[] { workers, stragglers, code, speeds, seed, json }) command.Options.Add(o);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(() =>
        {
            var gradientCode = GradientCodeFactory.Create(parse.GetValue(code)!, parse.GetValue(workers), parse.GetValue(stragglers),
                SpeedListOption.Parse(parse.GetValue(speeds)!));
            var description = CodeDescription.From(gradientCode, CodeConditioning.Analyze(gradientCode, parse.GetValue(seed)));
            if (parse.GetValue(json)) Console.WriteLine(description.ToJson());
            else Print(AnsiConsole.Console, description);
            return Task.FromResult(0);
        }));
        return command;
    }

    private static void Print(IAnsiConsole console, CodeDescription d)
    {
        Console.WriteLine($"{d.Name} code, n = {d.Workers}, s = {d.Stragglers}: {d.Construction}");
        if (d.PartitionWeights.Distinct().Count() > 1)
            Console.WriteLine($"partition sizes (fraction of the rows): {string.Join(", ", d.PartitionWeights.Select(w => (w / d.PartitionWeights.Sum()).ToString("0.####", CultureInfo.InvariantCulture)))}");
        var table = new Table().AddColumn("worker").AddColumn("partitions");
        for (int j = 0; j < d.Partitions; j++) table.AddColumn(Markup.Escape($"B[·,{j}]"));
        for (int i = 0; i < d.Workers; i++)
            table.AddRow([$"{i}", string.Join(",", d.Assignment[i]), .. d.B[i].Select(v => v == 0 ? "." : v.ToString("0.###"))]);
        console.Write(table);
        var c = d.Conditioning;
        Console.WriteLine($"responder sets of size {c.ResponderSetSize}: all {c.SubsetsTotal:N0} covered ({c.Method}), {c.UndecodableSubsets} not decodable");
        Console.WriteLine($"worst float32 decode error {c.WorstFloat32RelativeError:G3} (limit {CodeConditioning.Float32Tolerance:G1}), max |a| {c.MaxAbsWeight:G4}, " +
                          $"condition number at the worst set {c.ConditionAtWorstSet:G4}, worst residual {c.WorstResidual:G3}");
    }
}
