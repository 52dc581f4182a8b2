namespace GpuPs.Core.Data;

/// <summary>
/// A data file that cannot be read as a data set. The message always names the file and, where the problem
/// sits on one line, its 1-based line number, e.g. <c>digits.csv line 17: expected 65 values, found 64</c>,
/// so that a person can open the file and fix it.
/// </summary>
public sealed class DataFormatException : FormatException
{
    /// <summary>A problem with line <paramref name="line"/> (1-based) of <paramref name="source"/>.</summary>
    public DataFormatException(string source, int line, string problem, Exception? inner = null)
        : base($"{source} line {line}: {problem}", inner)
    {
        Source = source;
        Line = line;
    }

    /// <summary>A problem with the file as a whole (empty, a single class, …); <see cref="Line"/> is null.</summary>
    public DataFormatException(string source, string problem)
        : base($"{source}: {problem}")
    {
        Source = source;
    }

    /// <summary>The file (path or embedded resource name) as the caller named it.</summary>
    public new string Source { get; }

    /// <summary>1-based line of the problem; null when it concerns the whole file.</summary>
    public int? Line { get; }
}
