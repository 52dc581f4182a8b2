using System.Globalization;
using System.Reflection;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>Writes benchmark rows (records) as a console table, a CSV file and a PNG bar chart.</summary>
public static class BenchOutput
{
    public static void Write<T>(IAnsiConsole console, string title, IReadOnlyList<T> rows, Func<T, string> label, Func<T, double> value, string valueLabel, string? csvPath, string? plotPath)
    {
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var table = new Table().Title(Markup.Escape(title)).AddColumns(properties.Select(p => Markup.Escape(p.Name)).ToArray());
        foreach (var row in rows) table.AddRow(properties.Select(p => Markup.Escape(Format(p.GetValue(row)))).ToArray());
        console.Write(table);
        if (csvPath is not null)
            WriteCsv(console, csvPath, rows);
        if (plotPath is not null)
        {
            WriteBarPlot(plotPath, title, rows.Select(label).ToArray(), rows.Select(value).ToArray(), valueLabel);
            console.WriteLine($"plot written to {Path.GetFullPath(plotPath)}");
        }
    }

    /// <summary>Writes every public property of <paramref name="rows"/> as a CSV column and says where on <paramref name="console"/>.</summary>
    public static void WriteCsv<T>(IAnsiConsole console, string path, IReadOnlyList<T> rows)
    {
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        EnsureDirectory(path);
        using (var writer = new StreamWriter(path))
        {
            writer.WriteLine(string.Join(',', properties.Select(p => p.Name)));
            foreach (var row in rows) writer.WriteLine(string.Join(',', properties.Select(p => Quote(Format(p.GetValue(row))))));
        }
        console.WriteLine($"CSV written to {Path.GetFullPath(path)}");
    }

    /// <summary>Writes a horizontal bar chart of <paramref name="values"/>, one bar per label, as a PNG.</summary>
    public static void WriteBarPlot(string path, string title, string[] labels, double[] values, string valueLabel)
    {
        EnsureDirectory(path);
        var plot = new ScottPlot.Plot();
        var bars = plot.Add.Bars(values);
        bars.Horizontal = true;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        plot.Axes.Margins(left: 0);
        plot.Title(title);
        plot.XLabel(valueLabel);
        plot.SavePng(path, 1000, 120 + 28 * labels.Length);
    }

    private static string Format(object? value) => value switch
    {
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        null => "",
        _ => value.ToString() ?? "",
    };

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;

    private static void EnsureDirectory(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
    }
}
