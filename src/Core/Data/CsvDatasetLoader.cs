using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>
/// Loads a CSV file: one row per line, comma-separated, every feature a finite number, one column the label (the last
/// by default), numeric or text. Files ending in <c>.gz</c> are decompressed on the fly.
/// </summary>
/// <remarks>
/// <para>A first line whose features are not all numeric is a header and is skipped. The scikit-learn header
/// <c>rows,features,class names…</c> (e.g. <c>569,30,malignant,benign</c>) is also checked against the data
/// and its class names become <see cref="Dataset.ClassNames"/>.</para>
/// <para>Labels are mapped to 0..C-1 by sorted distinct value (<see cref="Dataset.LabelValues"/> keeps the
/// mapping). The first data row decides whether labels are numbers or text (<c>setosa</c>, <c>spam</c>); text labels
/// become classes in ordinal order of their names, which are the <see cref="Dataset.ClassNames"/>. Every malformed line
/// throws <see cref="DataFormatException"/> naming the file and line.</para>
/// </remarks>
public static class CsvDatasetLoader
{
    /// <summary>Loads the CSV file at <paramref name="path"/>.</summary>
    /// <param name="path">The file; a name ending in <c>.gz</c> is read as gzip.</param>
    /// <param name="labelColumn">0-based label column; negative counts from the end (-1: last column).</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">The file is not a valid data set.</exception>
    public static Dataset Load(string path, int labelColumn = -1)
    {
        using var reader = DataTextReader.OpenFile(path, comment: null);
        return Read(reader, labelColumn);
    }

    /// <summary>Loads CSV from <paramref name="stream"/> (disposed afterwards); <paramref name="sourceName"/>
    /// names it in errors and, when it ends in <c>.gz</c>, marks it as gzip-compressed.</summary>
    /// <exception cref="DataFormatException">The input is not a valid data set.</exception>
    public static Dataset Load(Stream stream, string sourceName, int labelColumn = -1)
    {
        using var reader = DataTextReader.Open(stream, sourceName, comment: null);
        return Read(reader, labelColumn);
    }

    private static Dataset Read(DataTextReader reader, int labelColumn)
    {
        var tokens = new List<Range>();
        if (!reader.TryReadLine(out string line)) throw new DataFormatException(reader.Source, "empty file (no data rows)");
        DataTextReader.Split(line, ",", skipEmpty: false, tokens);

        SklearnHeader? sklearn = null;
        int headerLine = 0;
        if (IsHeader(line, tokens, labelColumn))
        {
            headerLine = reader.LineNumber;
            sklearn = SklearnHeader.TryParse(line, tokens);
            if (!reader.TryReadLine(out line)) throw new DataFormatException(reader.Source, "a header line but no data rows");
            DataTextReader.Split(line, ",", skipEmpty: false, tokens);
        }

        // The first data row fixes the column count; every later row must match it.
        int columns = tokens.Count;
        if (columns < 2) throw reader.Error($"need at least one feature and a label per row, found {columns} value(s)");
        int label = labelColumn < 0 ? columns + labelColumn : labelColumn;
        if (label < 0 || label >= columns)
            throw reader.Error($"label column {labelColumn} does not exist in a row of {columns} values");

        var features = new List<float>();
        var rawLabels = new List<double>();
        var textLabels = new List<string>();
        bool text = !DataTextReader.IsNumber(line.AsSpan(tokens[label]));
        while (true)
        {
            if (tokens.Count != columns) throw reader.Error($"expected {columns} values, found {tokens.Count}");
            for (int c = 0; c < columns; c++)
            {
                ReadOnlySpan<char> token = line.AsSpan(tokens[c]);
                if (c != label) features.Add(reader.ParseNumber<float>(token, $"value in column {c + 1}"));
                else if (!text) rawLabels.Add(reader.ParseNumber<double>(token, $"label in column {c + 1}"));
                else textLabels.Add(token.Trim().Length > 0 ? token.Trim().ToString() : throw reader.Error($"empty label in column {c + 1}"));
            }
            if (!reader.TryReadLine(out line)) break;
            DataTextReader.Split(line, ",", skipEmpty: false, tokens);
        }

        IReadOnlyList<string>? classNames = null;
        if (text)
        {
            // Text labels are encoded by the rank of their name: class k is the k-th name in ordinal order.
            string[] names = textLabels.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            if (names.Length < 2) throw new DataFormatException(reader.Source, $"every row has label '{names[0]}'; classification needs at least two classes");
            classNames = names;
            rawLabels.AddRange(textLabels.Select(t => (double)Array.BinarySearch(names, t, StringComparer.Ordinal)));
        }
        int[] labels = LabelEncoding.Encode(rawLabels, reader.Source, out double[] classValues);
        if (sklearn is { } h)
        {
            if (h.Rows != rawLabels.Count || h.Features != columns - 1)
                throw new DataFormatException(reader.Source, headerLine,
                    $"header declares {h.Rows} rows x {h.Features} features, the file has {rawLabels.Count} rows x {columns - 1} features");
            if (h.ClassNames.Length > 0)
            {
                if (h.ClassNames.Length != classValues.Length)
                    throw new DataFormatException(reader.Source, headerLine,
                        $"header names {h.ClassNames.Length} classes, the labels have {classValues.Length} distinct values");
                classNames = h.ClassNames;
            }
        }
        return new Dataset(reader.DatasetName, features.ToArray(), labels, columns - 1, classValues.Length, classValues, classNames);
    }

    /// <summary>A line is a header when a feature is not a number; a data row may have a text label.</summary>
    private static bool IsHeader(string line, List<Range> tokens, int labelColumn)
    {
        int label = labelColumn < 0 ? tokens.Count + labelColumn : labelColumn;
        for (int c = 0; c < tokens.Count; c++)
            if (c != label && !DataTextReader.IsNumber(line.AsSpan(tokens[c]))) return true;
        return false;
    }

    /// <summary>scikit-learn's CSV header: row count, feature count, then the class names in label order.</summary>
    private readonly record struct SklearnHeader(int Rows, int Features, string[] ClassNames)
    {
        /// <summary>The header when the line has that shape (two integers, then only non-numeric names); else null.</summary>
        public static SklearnHeader? TryParse(string line, List<Range> tokens)
        {
            if (tokens.Count < 2
                || !int.TryParse(line.AsSpan(tokens[0]), NumberStyles.None, CultureInfo.InvariantCulture, out int rows)
                || !int.TryParse(line.AsSpan(tokens[1]), NumberStyles.None, CultureInfo.InvariantCulture, out int features))
                return null;
            var names = tokens.Skip(2).Select(t => line[t]).ToArray();
            if (names.Any(n => n.Length == 0 || DataTextReader.IsNumber(n))) return null;
            return new SklearnHeader(rows, features, names);
        }
    }
}
