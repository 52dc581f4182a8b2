using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace GpuPs.Cli;

/// <summary>
/// Structured logs on stderr (stdout carries results and progress): human-readable text, or compact JSON lines
/// (<c>--log-format json</c>) for log collectors. Events carry WorkerId, Step and Shard as properties.
/// </summary>
public static class Logging
{
    public static Logger Create(LogEventLevel level, string format, string role)
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
            .Enrich.WithProperty("Role", role)
            .Enrich.WithProperty("Pid", Environment.ProcessId);
        return format.Equals("json", StringComparison.OrdinalIgnoreCase)
            ? config.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose).CreateLogger()
            : config.WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Role} {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose).CreateLogger();
    }
}
