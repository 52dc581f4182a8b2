using System.Security.Cryptography;
using System.Text;

namespace GpuPs.Core.Security;

/// <summary>
/// The shared secret of one job. Every call a client makes carries it as the metadata <c>authorization: Bearer TOKEN</c>;
/// a server that requires it refuses any call without it (UNAUTHENTICATED). Over h2c it travels in cleartext, so it
/// keeps out whoever cannot see the traffic, not whoever can; over TLS (<see cref="TlsCredentials"/>) it is hidden too.
/// </summary>
/// <remarks>
/// <see cref="Matches"/> compares SHA-256 digests with <see cref="CryptographicOperations.FixedTimeEquals"/>, so the time
/// a refusal takes tells nothing about how much of a guess was right, nor about the token's length.
/// <see cref="ToString"/> never shows the token; only <see cref="Value"/> does, for handing it to a child process.
/// </remarks>
public sealed class JobToken
{
    /// <summary>The call metadata key that carries the token.</summary>
    public const string MetadataKey = "authorization";

    /// <summary>Fewest characters a token may have: 16 (e.g. 64 bits as hex) already defeats guessing over a network.</summary>
    public const int MinLength = 16;

    private const string Scheme = "Bearer ";
    private readonly byte[] _digest;

    private JobToken(string value)
    {
        Value = value;
        _digest = Digest(value);
    }

    /// <summary>The token itself: a secret.</summary>
    public string Value { get; }

    /// <summary>The metadata value a client sends: <c>Bearer TOKEN</c>.</summary>
    public string HeaderValue => Scheme + Value;

    /// <summary>A fresh random token of 256 bits (64 hex digits), as <c>gpups train</c> makes for its own cluster.</summary>
    public static JobToken Generate() => new(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));

    /// <summary>
    /// A token from text (a token file, an environment variable), without its surrounding whitespace and line breaks.
    /// </summary>
    /// <exception cref="ArgumentException">Shorter than <see cref="MinLength"/>, or holds characters other than visible ASCII.</exception>
    public static JobToken Parse(string text)
    {
        var value = text.Trim();
        if (value.Length < MinLength)
            throw new ArgumentException($"a job token needs at least {MinLength} characters (it has {value.Length}); make one with `openssl rand -hex 32`");
        if (value.Any(c => c is < '!' or > '~'))
            throw new ArgumentException("a job token may hold only visible ASCII characters (no spaces), as it travels in call metadata");
        return new JobToken(value);
    }

    /// <summary>Whether <paramref name="headerValue"/> (the <c>authorization</c> metadata of a call, or null) is <c>Bearer</c> and this token.</summary>
    public bool Matches(string? headerValue)
    {
        var presented = headerValue is not null && headerValue.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? headerValue[Scheme.Length..] : "";
        return CryptographicOperations.FixedTimeEquals(Digest(presented), _digest);
    }

    /// <summary>A fixed placeholder, so that logging a token never reveals it.</summary>
    public override string ToString() => "JobToken(hidden)";

    private static byte[] Digest(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}
