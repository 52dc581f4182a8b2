using GpuPs.Tests.Shared;

namespace GpuPs.Server.Tests;

public class RefusalLogTests
{
    [Fact]
    public void Refusals_are_logged_at_most_once_a_second_and_the_next_line_counts_those_left_out()
    {
        var log = new CapturedLog();
        var clock = new ManualTimeProvider();
        var refusals = new RefusalLog(log.Logger, clock);

        for (int i = 0; i < 4; i++) refusals.Refused("/gpups.v1.ParameterServer/Status", "ipv4:127.0.0.1:1", "no valid job token");
        clock.Advance(TimeSpan.FromMilliseconds(999));
        refusals.Refused("/gpups.v1.ParameterServer/Pull", "ipv4:127.0.0.1:1", "no valid job token");
        Assert.Single(log.Events);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        refusals.Refused("/gpups.v1.ParameterServer/Register", "ipv4:127.0.0.1:2", "malformed");

        var events = log.Events.ToArray();
        Assert.Equal(2, events.Length);
        Assert.All(events, e => Assert.Equal(Serilog.Events.LogEventLevel.Warning, e.Level));
        Assert.All(events, e => Assert.Null(e.Exception));
        Assert.Equal("/gpups.v1.ParameterServer/Status", CapturedLog.Property(events[0], "Method"));
        Assert.Equal("malformed", CapturedLog.Property(events[1], "Reason"));
        Assert.Equal(4, CapturedLog.Property(events[1], "LeftOut"));
    }
}
