using GpuPs.Server.DataPlane;

namespace GpuPs.Server.Tests.DataPlane;

/// <summary>
/// A server process turns inline socket completions on unless its environment already decides (an operator's <c>0</c>
/// turns them off). The variable is restored after each case: child processes inherit it.
/// </summary>
public class InlineSocketCompletionsTests
{
    [Theory]
    [InlineData(null, true, "1")]
    [InlineData("0", false, "0")]
    [InlineData("1", true, "1")]
    public void The_environment_decides_and_otherwise_they_are_turned_on(string? before, bool on, string after)
    {
        var saved = Environment.GetEnvironmentVariable(InlineSocketCompletions.Variable);
        try
        {
            Environment.SetEnvironmentVariable(InlineSocketCompletions.Variable, before);

            Assert.Equal(on, InlineSocketCompletions.PreferForThisServerProcess());
            Assert.Equal(after, Environment.GetEnvironmentVariable(InlineSocketCompletions.Variable));
        }
        finally
        {
            Environment.SetEnvironmentVariable(InlineSocketCompletions.Variable, saved);
        }
    }
}
