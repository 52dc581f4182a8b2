using GpuPs.Kernels;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace GpuPs.Kernels.Tests;

public sealed class AcceleratorsLoggingTests
{
    private sealed class CollectingSink : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];
        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }

    [Fact]
    public void CreateLogsTheChosenDeviceAsStructuredProperties()
    {
        var sink = new CollectingSink();
        using var log = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();

        using var backend = Accelerators.Create(AcceleratorChoice.Simd, log);

        var logged = Assert.Single(sink.Events, e => e.MessageTemplate.Text == "Compute device {Device} ({Backend})");
        Assert.Equal(LogEventLevel.Information, logged.Level);
        Assert.Equal(backend.DeviceName, ((ScalarValue)logged.Properties["Device"]).Value);
        Assert.Equal(AcceleratorChoice.Simd, ((ScalarValue)logged.Properties["Backend"]).Value);
    }
}
