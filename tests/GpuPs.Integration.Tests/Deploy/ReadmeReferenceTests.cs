using System.Text.RegularExpressions;
using GpuPs.Integration.Tests.Cli;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// The README's configuration reference names only what exists: each option in its table is an option of every command
/// the row lists, as that command's <c>--help</c> shows it, and each command it names runs.
/// </summary>
public partial class ReadmeReferenceTests
{
    [Fact]
    public async Task Every_option_in_the_configuration_reference_is_an_option_of_the_commands_it_names()
    {
        string readme = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "README.md"));
        int start = readme.IndexOf("## Configuration reference", StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no configuration reference");
        string section = readme[start..readme.IndexOf("\n## ", start + 3, StringComparison.Ordinal)];
        var rows = Row().Matches(section).ToList();
        Assert.True(rows.Count >= 15, $"only {rows.Count} rows in the configuration reference");
        var helps = new Dictionary<string, string>();
        foreach (var row in rows)
        {
            var options = Option().Matches(row.Groups[1].Value).Select(m => m.Value).ToList();
            var commands = Command().Matches(row.Groups[2].Value).Select(m => m.Value).Where(c => c != "all").ToList();
            Assert.NotEmpty(options);
            foreach (string command in commands)
            {
                if (!helps.TryGetValue(command, out string? help))
                {
                    var run = await Gpups.RunAsync(command, "--help");
                    Assert.True(run.ExitCode == 0, $"the reference names a command '{command}' that gpups does not have");
                    helps[command] = help = run.Stdout;
                }
                foreach (string option in options)
                    Assert.True(help.Contains($"{option} <", StringComparison.Ordinal) || help.Contains($"  {option} ", StringComparison.Ordinal),
                        $"the reference lists {option} for gpups {command}, which has no such option");
            }
        }
    }

    [GeneratedRegex(@"^\| ((?:`--[a-z-]+`(?:, )?)+) \| ([a-z, ;]+) \|", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex("--[a-z-]+")]
    private static partial Regex Option();

    [GeneratedRegex("[a-z]+")]
    private static partial Regex Command();
}
