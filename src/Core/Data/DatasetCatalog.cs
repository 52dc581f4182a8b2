using System.Globalization;

namespace GpuPs.Core.Data;

/// <summary>
/// Turns a data-set spec (as carried in <c>TrainingJob.Dataset</c>) into a <see cref="Dataset"/>. Every process
/// of a job resolves the same spec and seed to the same data.
/// </summary>
public static class DatasetCatalog
{
    /// <summary>The spec forms <see cref="Load"/> accepts, for help texts and error messages.</summary>
    public const string AcceptedForms =
        "digits | breast-cancer | synthetic | synthetic:rows=N,features=N,classes=N,separation=X | csv:PATH | libsvm:PATH | "
        + "a path ending in .csv, .csv.gz, .libsvm, .svm or .txt (optionally .gz)";

    private const string DigitsResource = "GpuPs.Data.digits.csv.gz";
    private const string BreastCancerResource = "GpuPs.Data.breast_cancer.csv";

    /// <summary>
    /// Loads the data set <paramref name="spec"/> names:
    /// <list type="bullet">
    /// <item><c>digits</c>: UCI optical digits, 1797 rows x 64 features, 10 classes (embedded);</item>
    /// <item><c>breast-cancer</c>: Wisconsin diagnostic, 569 rows x 30 features, 2 classes (embedded);</item>
    /// <item><c>synthetic</c> or <c>synthetic:rows=5000,features=100,classes=2,separation=1.0</c> (any subset of the
    /// keys; the others keep these defaults): <see cref="SyntheticDataset.GaussianMixture"/> with <paramref name="seed"/>;</item>
    /// <item><c>csv:PATH</c>, <c>libsvm:PATH</c>, or a bare path whose extension says the format
    /// (.csv → CSV; .libsvm, .svm, .txt → LibSVM; each optionally followed by .gz).</item>
    /// </list>
    /// </summary>
    /// <param name="spec">One of <see cref="AcceptedForms"/>; surrounding white space is ignored.</param>
    /// <param name="seed">Seeds generated data; files and embedded sets ignore it.</param>
    /// <exception cref="ArgumentException">The spec matches none of the forms, or has a bad synthetic parameter.</exception>
    /// <exception cref="FileNotFoundException">A named file does not exist.</exception>
    /// <exception cref="DataFormatException">A file is not a valid data set.</exception>
    public static Dataset Load(string spec, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string s = spec.Trim();
        if (s.Equals("digits", StringComparison.OrdinalIgnoreCase)) return LoadEmbeddedCsv(DigitsResource, "digits.csv.gz");
        if (s.Equals("breast-cancer", StringComparison.OrdinalIgnoreCase)) return LoadEmbeddedCsv(BreastCancerResource, "breast_cancer.csv");
        if (TrySynthetic(s, out var synthetic))
            return SyntheticDataset.GaussianMixture(synthetic.Rows, synthetic.Features, synthetic.Classes, seed, synthetic.Separation);
        if (TryStripPrefix(s, "csv:", out string csvPath)) return CsvDatasetLoader.Load(RequirePath(csvPath, spec));
        if (TryStripPrefix(s, "libsvm:", out string libSvmPath)) return LibSvmDatasetLoader.Load(RequirePath(libSvmPath, spec));

        string withoutGz = s.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? s[..^3] : s;
        string extension = Path.GetExtension(withoutGz).ToLowerInvariant();
        if (extension == ".csv") return CsvDatasetLoader.Load(s);
        if (extension is ".libsvm" or ".svm" or ".txt") return LibSvmDatasetLoader.Load(s);
        throw new ArgumentException($"unknown data set '{spec}'; accepted forms: {AcceptedForms}", nameof(spec));
    }

    /// <summary>
    /// The shape of the data set <paramref name="spec"/> names, without loading it where the spec says it (synthetic and
    /// embedded sets); a file is read once. Same errors as <see cref="Load"/>.
    /// </summary>
    public static DatasetShape Describe(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string s = spec.Trim();
        if (s.Equals("digits", StringComparison.OrdinalIgnoreCase)) return Digits;
        if (s.Equals("breast-cancer", StringComparison.OrdinalIgnoreCase)) return BreastCancer;
        if (TrySynthetic(s, out var synthetic)) return new DatasetShape(synthetic.Rows, synthetic.Features, synthetic.Classes);
        var data = Load(s, seed: 0);
        return new DatasetShape(data.Rows, data.FeatureCount, data.ClassCount);
    }

    // The embedded sets' shapes, as loading them gives (DatasetCatalogTests loads and compares).
    private static readonly DatasetShape Digits = new(1797, 64, 10), BreastCancer = new(569, 30, 2);

    private static bool TrySynthetic(string s, out (int Rows, int Features, int Classes, double Separation) synthetic)
    {
        if (s.Equals("synthetic", StringComparison.OrdinalIgnoreCase))
        {
            synthetic = ParseSynthetic("");
            return true;
        }
        bool match = TryStripPrefix(s, "synthetic:", out string parameters);
        synthetic = match ? ParseSynthetic(parameters) : default;
        return match;
    }

    private static bool TryStripPrefix(string s, string prefix, out string rest)
    {
        bool match = s.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);
        rest = match ? s[prefix.Length..].Trim() : "";
        return match;
    }

    private static string RequirePath(string path, string spec) =>
        path.Length > 0 ? path : throw new ArgumentException($"data set spec '{spec}' names no file; accepted forms: {AcceptedForms}", nameof(spec));

    private static Dataset LoadEmbeddedCsv(string resource, string fileName)
    {
        Stream stream = typeof(DatasetCatalog).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded data set '{resource}' is missing from {typeof(DatasetCatalog).Assembly.GetName().Name}; the build is broken");
        return CsvDatasetLoader.Load(stream, fileName);
    }

    /// <summary>Parses <c>key=value</c> pairs separated by commas; keys not given keep the generator's defaults.</summary>
    private static (int Rows, int Features, int Classes, double Separation) ParseSynthetic(string parameters)
    {
        int rows = SyntheticDataset.DefaultRows, features = SyntheticDataset.DefaultFeatures, classes = SyntheticDataset.DefaultClasses;
        double separation = SyntheticDataset.DefaultSeparation;
        foreach (string pair in parameters.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = eq > 0 ? pair[..eq].Trim().ToLowerInvariant() : "";
            string value = eq > 0 ? pair[(eq + 1)..].Trim() : "";
            switch (key)
            {
                case "rows": rows = ParseInt(key, value); break;
                case "features": features = ParseInt(key, value); break;
                case "classes": classes = ParseInt(key, value); break;
                case "separation":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out separation))
                        throw new ArgumentException($"synthetic data set: separation '{value}' is not a number");
                    break;
                default:
                    throw new ArgumentException($"synthetic data set: bad parameter '{pair}'; expected key=value with key rows, features, classes or separation");
            }
        }
        SyntheticDataset.CheckArguments(rows, features, classes, separation);
        return (rows, features, classes, separation);
    }

    private static int ParseInt(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int result)
            ? result
            : throw new ArgumentException($"synthetic data set: {key} '{value}' is not an integer");
}
