using System.CommandLine;
using GpuPs.Cli.Settings;
using Serilog.Core;
using Serilog.Events;

namespace GpuPs.Cli.Commands;

/// <summary>Options every command takes: config file, log level and log format.</summary>
public sealed class GlobalOptions
{
    public GlobalOptions(SettingSources sources)
    {
        Config = new Option<string?>("--config") { Description = "JSON config file of settings (keys are option names) [env GPUPS_CONFIG]", Recursive = true };
        LogLevel = sources.Option<LogEventLevel?>("log-level", null, "log level: verbose | debug | information | warning | error");
        LogLevel.Recursive = true;
        LogFormat = sources.Option("log-format", "text", "log format on stderr: text | json");
        LogFormat.Recursive = true;
    }

    public Option<string?> Config { get; }
    public Option<LogEventLevel?> LogLevel { get; }
    public Option<string> LogFormat { get; }

    public void AddTo(Command root)
    {
        root.Options.Add(Config);
        root.Options.Add(LogLevel);
        root.Options.Add(LogFormat);
    }

    public Logger CreateLogger(ParseResult parse, string role, LogEventLevel defaultLevel) =>
        Logging.Create(parse.GetValue(LogLevel) ?? defaultLevel, parse.GetValue(LogFormat)!, role);
}
