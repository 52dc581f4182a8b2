using System.CommandLine;
using System.Runtime.InteropServices;
using GpuPs.Cli.Cluster;
using GpuPs.Cli.Commands;
using GpuPs.Cli.Settings;

namespace GpuPs.Cli;

/// <summary>The <c>gpups</c> command line.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args);

    /// <summary>Parses and runs one command; the entry point tests call in-process.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        // Redirected output (CI logs, files) has no width; Spectre would assume 80 columns and fold the result tables.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 200;
        SettingSources sources;
        try { sources = SettingSources.FromArguments(args); }
        catch (SettingsException e)
        {
            await Console.Error.WriteLineAsync($"gpups: error: {e.Message}");
            return 2;
        }
        return await CommandErrors.RunAsync(async () =>
        {
            var global = new GlobalOptions(sources);
            var root = new RootCommand("GpuPs: a straggler- and contention-tolerant parameter server for data-parallel training on GPUs and CPUs.");
            global.AddTo(root);
            root.Subcommands.Add(TrainCommand.Create(sources, global));
            root.Subcommands.Add(ServerCommand.Create(sources, global));
            root.Subcommands.Add(WorkerCommand.Create(sources, global));
            root.Subcommands.Add(AggregatorCommand.Create(sources, global));
            root.Subcommands.Add(BenchCommand.Create(sources, global));
            root.Subcommands.Add(CodesCommand.Create(sources));
            root.Subcommands.Add(StatusCommand.Create(sources));
            root.Subcommands.Add(EvaluateCommand.Create(sources));
            root.Subcommands.Add(ReportCommand.Create(sources));
            root.Subcommands.Add(HealthCommand.Create());
            sources.RejectUnknownKeys();
            foreach (string warning in sources.UnknownVariableWarnings(
                Environment.GetEnvironmentVariables().Keys.Cast<string>(), ParentWatch.Variable))
                await Console.Error.WriteLineAsync($"gpups: warning: {warning}");
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
            {
                // One readable line and exit code 2, like every other bad input (System.CommandLine would print the whole help).
                await Console.Error.WriteLineAsync($"gpups: error: {string.Join(" ", parse.Errors.Select(e => e.Message).Reverse().Concat(Suggestions(parse)))} (see '{HelpCommand(parse)}')");
                return 2;
            }
            if (HelpConventions.IsHelp(parse)) return HelpConventions.WriteHelp(parse, Console.Out);
            // SIGTERM (docker stop, Kubernetes) and Ctrl+C cancel the command's token, so servers and workers stop cleanly
            // instead of being killed mid-write.
            using var stop = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
            // A child of `gpups train --processes` stops the same way when its parent is gone (even after SIGKILL).
            var orphaned = ParentWatch.WatchAsync(stop);
            try
            {
                return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stop.Token);
            }
            finally
            {
                await stop.CancelAsync();
                await orphaned;
            }
        });
    }

    /// <summary>
    /// "Did you mean --model?" for each unmatched token that is a near miss: an option of the command (its own and the
    /// recursive global ones) for a token starting with '-', else one of its subcommands.
    /// </summary>
    private static IEnumerable<string> Suggestions(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var options = new List<string>();
        for (var c = parse.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            options.AddRange(c.Command.Options.Where(o => c == parse.CommandResult || o.Recursive).SelectMany(o => o.Aliases.Prepend(o.Name)));
        var subcommands = command.Subcommands.Select(c => c.Name).ToArray();
        foreach (string token in parse.UnmatchedTokens)
        {
            string? closest = token.StartsWith('-') ? Spelling.Closest(token, options) : subcommands.Length > 0 ? Spelling.Closest(token, subcommands) : null;
            if (closest is not null) yield return $"Did you mean {closest}?";
        }
    }

    private static string HelpCommand(ParseResult parse)
    {
        var names = new List<string>();
        for (var c = parse.CommandResult; c is not null && c.Command is not RootCommand; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, c.Command.Name);
        return string.Join(' ', ["gpups", .. names, "--help"]);
    }
}
