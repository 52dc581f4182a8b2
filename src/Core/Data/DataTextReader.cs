using System.Globalization;
using System.IO.Compression;
using System.Numerics;

namespace GpuPs.Core.Data;

/// <summary>
/// The line reader, tokenizer and number parser that every text loader shares, so that all formats agree on
/// line numbering, gzip handling, number syntax and the wording of <see cref="DataFormatException"/>s.
/// </summary>
/// <remarks>
/// Only lines with content are returned: each is trimmed, a comment (from the comment character to the end
/// of the line, where the format has one) is dropped, and blank lines are skipped. <see cref="LineNumber"/>
/// still counts every physical line, so error messages point at the line a text editor shows.
/// </remarks>
internal sealed class DataTextReader : IDisposable
{
    private readonly TextReader _text;
    private readonly char? _comment;

    private DataTextReader(Stream stream, string source, char? comment)
    {
        Source = source;
        _comment = comment;
        // Decide by name rather than by sniffing bytes: resource streams and files both carry their name,
        // and a misnamed file then fails with a clear gzip error instead of parsing compressed bytes as text.
        Stream decoded = source.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(stream, CompressionMode.Decompress)
            : stream;
        _text = new StreamReader(decoded, detectEncodingFromByteOrderMarks: true);
    }

    /// <summary>Opens a file, decompressing it when its name ends in <c>.gz</c>.</summary>
    /// <exception cref="FileNotFoundException">No such file; the message holds the full path.</exception>
    public static DataTextReader OpenFile(string path, char? comment)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"data file not found: {Path.GetFullPath(path)}", path);
        return new DataTextReader(File.OpenRead(path), path, comment);
    }

    /// <summary>Reads <paramref name="stream"/> (which the reader then owns), named <paramref name="source"/> in errors.</summary>
    public static DataTextReader Open(Stream stream, string source, char? comment)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        return new DataTextReader(stream, source, comment);
    }

    /// <summary>The file as named by the caller; every error message starts with it.</summary>
    public string Source { get; }

    /// <summary>1-based number of the line last returned by <see cref="TryReadLine"/> (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>A data-set name derived from the source: the file name without directories, <c>.gz</c> and extension.</summary>
    public string DatasetName
    {
        get
        {
            string name = Path.GetFileName(Source);
            if (name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) name = name[..^3];
            return Path.GetFileNameWithoutExtension(name);
        }
    }

    /// <summary>The next line with content, trimmed and without its comment; false at the end of the input.</summary>
    /// <exception cref="DataFormatException">The input is not valid gzip data.</exception>
    public bool TryReadLine(out string line)
    {
        while (true)
        {
            string? raw;
            try
            {
                raw = _text.ReadLine();
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException(Source, LineNumber + 1, $"not valid gzip data ({e.Message})", e);
            }
            if (raw is null)
            {
                line = "";
                return false;
            }
            LineNumber++;
            int cut = _comment is char c ? raw.IndexOf(c) : -1;
            line = (cut >= 0 ? raw[..cut] : raw).Trim();
            if (line.Length > 0) return true;
        }
    }

    /// <summary>An error about the line last read.</summary>
    public DataFormatException Error(string problem) => new(Source, LineNumber, problem);

    /// <summary>
    /// Splits <paramref name="line"/> at any of <paramref name="separators"/> into <paramref name="tokens"/>
    /// (cleared first), each trimmed of white space. With <paramref name="skipEmpty"/> runs of separators count
    /// as one (white-space separated formats); without it an empty token is kept so that the caller can report
    /// a missing value at its column.
    /// </summary>
    public static void Split(string line, ReadOnlySpan<char> separators, bool skipEmpty, List<Range> tokens)
    {
        tokens.Clear();
        int start = 0;
        for (int i = 0; i <= line.Length; i++)
        {
            if (i < line.Length && separators.IndexOf(line[i]) < 0) continue;
            int first = start, end = i;
            while (first < end && char.IsWhiteSpace(line[first])) first++;
            while (end > first && char.IsWhiteSpace(line[end - 1])) end--;
            if (end > first || !skipEmpty) tokens.Add(first..end);
            start = i + 1;
        }
    }

    /// <summary>True when <paramref name="token"/> is a number in the syntax <see cref="ParseNumber{T}"/> accepts.</summary>
    public static bool IsNumber(ReadOnlySpan<char> token) =>
        double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>
    /// Parses a finite number (invariant culture: '.' decimal point, optional sign and exponent).
    /// <paramref name="what"/> describes the token in the error, e.g. <c>value in column 3</c>.
    /// </summary>
    /// <exception cref="DataFormatException">Empty, not a number, NaN, infinite, or out of the range of <typeparamref name="T"/>.</exception>
    public T ParseNumber<T>(ReadOnlySpan<char> token, string what) where T : IFloatingPointIeee754<T>
    {
        if (token.IsEmpty) throw Error($"missing {what}");
        if (!T.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out T? value))
            throw Error($"{what} '{token}' is not a number");
        // Overflow parses to infinity, so this one test covers NaN, Inf and out-of-range values.
        if (!T.IsFinite(value)) throw Error($"{what} '{token}' is not a finite {typeof(T).Name} (NaN, infinite or out of range)");
        return value;
    }

    public void Dispose() => _text.Dispose();
}
