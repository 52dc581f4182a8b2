using System.Collections.Concurrent;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace GpuPs.Tests.Shared;

/// <summary>A logger that keeps every event, so tests can check what was logged and with which properties.</summary>
public sealed class CapturedLog : ILogEventSink
{
    public CapturedLog() => Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(this).CreateLogger();

    public ILogger Logger { get; }

    public ConcurrentQueue<LogEvent> Events { get; } = new();

    public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);

    /// <summary>The scalar value of property <paramref name="name"/> in <paramref name="e"/>, or null.</summary>
    public static object? Property(LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var value) && value is ScalarValue scalar ? scalar.Value : null;
}
