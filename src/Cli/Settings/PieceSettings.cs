using System.CommandLine;
using System.Globalization;
using GpuPs.Worker.Scheduling;

namespace GpuPs.Cli.Settings;

/// <summary>
/// <c>--piece-size</c> and <c>--credit-bytes</c>: a worker's tensor partitioning, priorities and credit
/// (<see cref="PieceOptions"/>), on <c>gpups train</c> and <c>gpups worker</c>.
/// </summary>
public sealed class PieceSettings(SettingSources sources)
{
    private readonly Option<string> _pieceSize = sources.Option("piece-size", "off",
        "split pushes and pulls into pieces sent first layer first with a credit of bytes in flight (ByteScheduler): off | auto (size tuned from the link) | N parameters | N bytes with a unit (256KiB, 1MiB, 4MB)");
    private readonly Option<string> _creditBytes = sources.Option("credit-bytes", "0",
        "with --piece-size: bytes in flight per worker-shard link and direction, e.g. 4MiB; 0: tuned from the link's measured rate x round trip");

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_pieceSize);
        command.Options.Add(_creditBytes);
    }

    /// <summary>The options given; null when pieces are off.</summary>
    /// <exception cref="SettingsException">A size that is not a count, a size with a unit, auto or off.</exception>
    public PieceOptions? Bind(ParseResult parse) => Parse(parse.GetValue(_pieceSize)!, parse.GetValue(_creditBytes)!);

    /// <summary>Reads <c>--piece-size</c> and <c>--credit-bytes</c>; null when pieces are off.</summary>
    /// <exception cref="SettingsException">Either is not what its help says.</exception>
    public static PieceOptions? Parse(string pieceSize, string creditBytes)
    {
        var size = pieceSize.Trim().ToLowerInvariant();
        long credit = Bytes(creditBytes, "--credit-bytes", allowUnitless: true);
        if (size == "off")
        {
            if (credit != 0) throw new SettingsException($"--credit-bytes {creditBytes} needs --piece-size (auto or a size): whole tensors have no credit");
            return null;
        }
        int floats = size == "auto" ? 0 : PieceFloats(size, pieceSize);
        return new PieceOptions(floats, credit);
    }

    /// <summary>The worker arguments that give <paramref name="pieces"/> (none when off).</summary>
    public static IEnumerable<string> Arguments(PieceOptions? pieces) => pieces is null ? [] :
        ["--piece-size", pieces.PieceFloats > 0 ? pieces.PieceFloats.ToString(CultureInfo.InvariantCulture) : "auto",
         "--credit-bytes", pieces.CreditBytes.ToString(CultureInfo.InvariantCulture)];

    private static int PieceFloats(string size, string given)
    {
        bool hasUnit = size.Length > 0 && char.IsLetter(size[^1]);
        long value = hasUnit ? Bytes(size, "--piece-size", allowUnitless: false) / sizeof(float) : Count(size, given);
        if (value is < 1 or > int.MaxValue)
            throw new SettingsException($"--piece-size {given}: a piece holds 1 to {int.MaxValue} parameters (a size with a unit is at least 4 bytes)");
        return (int)value;
    }

    private static long Count(string text, string given) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new SettingsException($"--piece-size {given}: expected off, auto, a number of parameters or a size such as 1MiB");

    /// <summary>A byte size: digits, then B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024); unitless only where allowed.</summary>
    private static long Bytes(string text, string option, bool allowUnitless)
    {
        var t = text.Trim();
        int digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits])) digits++;
        long multiplier = t[digits..].ToLowerInvariant() switch
        {
            "" when allowUnitless => 1,
            "b" => 1,
            "kb" => 1000,
            "mb" => 1000_000,
            "gb" => 1000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            _ => 0,
        };
        if (digits == 0 || multiplier == 0 || !long.TryParse(t[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > long.MaxValue / multiplier)
            throw new SettingsException($"{option} {text}: expected a size such as 4MiB, 512KiB or 1000000B{(allowUnitless ? " (or a number of bytes)" : "")}");
        return n * multiplier;
    }
}
