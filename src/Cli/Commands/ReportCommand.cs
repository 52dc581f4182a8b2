using System.CommandLine;
using GpuPs.Cli.Report;
using GpuPs.Cli.Settings;

namespace GpuPs.Cli.Commands;

/// <summary><c>gpups report DIR</c>: PNG plots and a markdown summary of the train results and benchmark CSVs in a folder (<see cref="ReportWriter"/>).</summary>
public static class ReportCommand
{
    /// <summary>The <c>report</c> command.</summary>
    public static Command Create(SettingSources sources)
    {
        var folder = new Argument<string>("DIR") { Description = "folder of train results (*.json) and benchmark CSVs, read recursively" };
        var output = sources.Option<string?>("output", null, "folder for the plots and report.md (default: DIR/report)");
        var command = new Command("report", "Plot and summarise a folder of results: loss vs wall time and step-time distributions per scheme, per-worker timelines (who straggled when), benchmark step-time percentiles, link utilisation where present.");
        command.Arguments.Add(folder);
        command.Options.Add(output);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(() =>
        {
            string dir = parse.GetValue(folder)!;
            string target = parse.GetValue(output) ?? Path.Combine(dir, "report");
            List<string> written;
            try { written = ReportWriter.Write(dir, target); }
            catch (Exception e) when (e is DirectoryNotFoundException or InvalidOperationException) { throw new SettingsException(e.Message); }
            foreach (string file in written) Console.WriteLine($"written {Path.GetFullPath(file)}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
