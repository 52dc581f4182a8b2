using GpuPs.Core.Security;

namespace GpuPs.Core.Tests.Security;

public class JobTokenTests
{
    [Fact]
    public void Generated_tokens_are_256_random_bits_in_hex_and_never_repeat()
    {
        var tokens = Enumerable.Range(0, 100).Select(_ => JobToken.Generate().Value).ToList();
        Assert.All(tokens, t => Assert.Matches("^[0-9a-f]{64}$", t));
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public void Parsing_trims_the_line_break_of_a_token_file_and_refuses_short_or_unprintable_tokens()
    {
        Assert.Equal("0123456789abcdef", JobToken.Parse("  0123456789abcdef\n").Value);
        Assert.Contains("at least 16 characters (it has 15)", Assert.Throws<ArgumentException>(() => JobToken.Parse("0123456789abcde\n")).Message);
        Assert.Contains("visible ASCII", Assert.Throws<ArgumentException>(() => JobToken.Parse("0123456789 abcdef")).Message);
        Assert.Contains("visible ASCII", Assert.Throws<ArgumentException>(() => JobToken.Parse("0123456789abcdéf")).Message);
    }

    [Fact]
    public void Only_bearer_and_exactly_the_token_matches()
    {
        var token = JobToken.Parse("0123456789abcdef");
        Assert.True(token.Matches("Bearer 0123456789abcdef"));
        Assert.True(token.Matches("bearer 0123456789abcdef"));
        Assert.True(token.Matches(token.HeaderValue));
        foreach (var other in new[] { null, "", "0123456789abcdef", "Basic 0123456789abcdef", "Bearer 0123456789abcde", "Bearer 0123456789abcdefg", "Bearer 0123456789ABCDEF" })
            Assert.False(token.Matches(other), other);
    }

    [Fact]
    public void The_token_never_shows_in_its_string_form()
    {
        var token = JobToken.Generate();
        Assert.DoesNotContain(token.Value, token.ToString());
        Assert.DoesNotContain(token.Value, JobAuth.WithToken(token).ToString());
    }
}
