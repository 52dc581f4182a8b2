using System.CommandLine;
using System.CommandLine.Help;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuPs.Cli.Commands;

/// <summary>
/// How every <c>--help</c> reads: defaults in the spelling users type (<c>bsp</c>, <c>sgd</c>, <c>multi-message</c>, not
/// the enum names <c>Bsp</c>, <c>MultiMessage</c> that System.CommandLine prints), and an "Examples:" section under each
/// command's options (<see cref="CommandExamples"/>). System.CommandLine 2.0 keeps its help layout internal, so the conventions are applied to the text it writes.
/// </summary>
public static partial class HelpConventions
{
    /// <summary>True when <paramref name="parse"/> asks for help (it then runs through <see cref="WriteHelp"/>).</summary>
    public static bool IsHelp(ParseResult parse) => parse.Action is HelpAction;

    /// <summary>Writes the help <paramref name="parse"/> asks for to <paramref name="output"/>, with the conventions applied.</summary>
    public static int WriteHelp(ParseResult parse, TextWriter output)
    {
        var text = new StringWriter();
        int exit = parse.Invoke(new InvocationConfiguration { Output = text });
        output.Write(Rewrite(text.ToString(), parse.CommandResult.Command));
        return exit;
    }

    /// <summary><paramref name="help"/> with enum defaults in kebab-case and <paramref name="command"/>'s examples appended.</summary>
    public static string Rewrite(string help, Command command)
    {
        string rewritten = EnumDefault().Replace(help, m => $"[default: {JsonNamingPolicy.KebabCaseLower.ConvertName(m.Groups[1].Value)}]");
        var examples = CommandExamples.For(Path(command));
        if (examples.Count == 0) return rewritten;
        return rewritten.TrimEnd() + Environment.NewLine + Environment.NewLine + "Examples:" + Environment.NewLine
            + string.Concat(examples.Select(e => $"  {e}{Environment.NewLine}")) + Environment.NewLine;
    }

    /// <summary>The names after <c>gpups</c> that run <paramref name="command"/>, space-separated ("" for the root).</summary>
    public static string Path(Command command)
    {
        var names = new List<string>();
        for (var c = command; c is not null && c is not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault())
            names.Insert(0, c.Name);
        return string.Join(' ', names);
    }

    // Enum names are PascalCase words; every other default (numbers, paths, URLs, lowercase strings) never starts upper-case.
    [GeneratedRegex(@"\[default: ([A-Z][A-Za-z]*)\]")]
    private static partial Regex EnumDefault();
}
