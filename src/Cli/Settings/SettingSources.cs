using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace GpuPs.Cli.Settings;

/// <summary>
/// Where option values come from, highest precedence first: the command line, environment variables
/// (<c>GPUPS_LEARNING_RATE</c> for <c>--learning-rate</c>), a JSON config file (<c>--config FILE</c> or <c>GPUPS_CONFIG</c>,
/// keys as option names: <c>{"learning-rate": 0.1}</c>), then the built-in default.
/// </summary>
public sealed class SettingSources
{
    private readonly Dictionary<string, JsonElement> _file = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);
    private readonly Func<string, string?> _environment;

    public SettingSources(string? configPath, Func<string, string?>? environment = null)
    {
        _environment = environment ?? Environment.GetEnvironmentVariable;
        ConfigPath = configPath;
        if (configPath is null) return;
        if (!File.Exists(configPath)) throw new SettingsException($"config file not found: {configPath}");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(configPath), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new SettingsException($"config file {configPath}: expected a JSON object of settings");
            foreach (var p in doc.RootElement.EnumerateObject()) _file[p.Name] = p.Value.Clone();
        }
        catch (JsonException e)
        {
            throw new SettingsException($"config file {configPath}: invalid JSON at line {e.LineNumber + 1}: {e.Message.Split('.')[0]}");
        }
    }

    public string? ConfigPath { get; }

    /// <summary>Built-in defaults only: no config file, no environment.</summary>
    public static SettingSources Empty => new(null, _ => null);

    /// <summary>Finds <c>--config FILE</c> in raw arguments (it must be known before options get their defaults), else <c>GPUPS_CONFIG</c>.</summary>
    public static SettingSources FromArguments(IReadOnlyList<string> args)
    {
        string? path = null;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Count) path = args[i + 1];
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal)) path = args[i]["--config=".Length..];
        }
        return new SettingSources(path ?? Environment.GetEnvironmentVariable("GPUPS_CONFIG"));
    }

    /// <summary>An option whose default is read from the environment or the config file, else <paramref name="fallback"/>.</summary>
    public Option<T> Option<T>(string name, T fallback, string description)
    {
        var value = Resolve(name, fallback);
        var option = new Option<T>("--" + name)
        {
            Description = $"{description} [env {EnvironmentName(name)}]",
            DefaultValueFactory = _ => value,
        };
        var enumType = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        if (enumType.IsEnum)
        {
            option.HelpName = name;
            // Accept the spelling the docs use ("multi-message", "shifted-exponential") as well as the enum name.
            option.CustomParser = result =>
            {
                string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (Enum.TryParse(enumType, token.Replace("-", ""), ignoreCase: true, out var parsed) && Enum.IsDefined(enumType, parsed!))
                    return (T)parsed!;
                result.AddError($"--{name}: '{token}' is not one of {string.Join(", ", Enum.GetNames(enumType).Where(n => n != "Unspecified").Select(JsonNamingPolicy.KebabCaseLower.ConvertName))}");
                return default!;
            };
        }
        return option;
    }

    /// <summary>
    /// The value of <c>GPUPS_NAME</c> for <paramref name="name"/> from the environment alone, for a secret: no option
    /// (a command line is visible to every user through <c>ps</c>) and no config file key (config files get shared).
    /// </summary>
    public string? EnvironmentOnly(string name)
    {
        _used.Add(name);
        return _environment(EnvironmentName(name));
    }

    /// <summary>
    /// One warning for each of <paramref name="variables"/> (the environment's names) that starts with <c>GPUPS_</c> but is
    /// no setting of any command, with the nearest setting's variable when it looks like a typo. Call it once every command
    /// has declared its options. <paramref name="internalNames"/> are variables GpuPs sets for its own child processes.
    /// </summary>
    public IEnumerable<string> UnknownVariableWarnings(IEnumerable<string> variables, params string[] internalNames)
    {
        var known = _used.Select(EnvironmentName).Append("GPUPS_CONFIG").Concat(internalNames).ToHashSet(StringComparer.Ordinal);
        foreach (string variable in variables.Where(v => v.StartsWith("GPUPS_", StringComparison.Ordinal) && !known.Contains(v)).Order(StringComparer.Ordinal))
        {
            // Compared without the prefix every name shares, which would make any two names look alike.
            string? closest = Spelling.Closest(variable["GPUPS_".Length..], known.Select(k => k["GPUPS_".Length..]));
            yield return $"environment variable {variable} is not a gpups setting and is ignored{(closest is null ? "" : $" (did you mean GPUPS_{closest}?)")}";
        }
    }

    /// <summary>Throws when the config file names a setting no command option has (a typo would otherwise be silently ignored).</summary>
    public void RejectUnknownKeys()
    {
        var unknown = _file.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new SettingsException($"config file {ConfigPath}: unknown setting(s) {string.Join(", ", unknown.Select(k => $"'{k}'"))}");
    }

    public static string EnvironmentName(string name) => "GPUPS_" + name.Replace('-', '_').ToUpperInvariant();

    private T Resolve<T>(string name, T fallback)
    {
        _used.Add(name);
        var env = _environment(EnvironmentName(name));
        if (!string.IsNullOrEmpty(env)) return Convert<T>(env, $"environment variable {EnvironmentName(name)}");
        if (_file.TryGetValue(name, out var element))
        {
            string text = element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
            return Convert<T>(text, $"config file {ConfigPath}, setting '{name}'");
        }
        return fallback;
    }

    private static T Convert<T>(string text, string where)
    {
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        try
        {
            if (type == typeof(string)) return (T)(object)text;
            if (type == typeof(bool)) return (T)(object)bool.Parse(text);
            if (type.IsEnum) return (T)Enum.Parse(type, text.Replace("-", ""), ignoreCase: true);
            return (T)System.Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidCastException or OverflowException)
        {
            string expected = type == typeof(bool) ? "true or false" : type.IsEnum ? string.Join(" | ", Enum.GetNames(type).Select(JsonNamingPolicy.KebabCaseLower.ConvertName))
                : type == typeof(float) || type == typeof(double) ? "a number" : "a whole number";
            throw new SettingsException($"{where}: '{text}' is not {expected}");
        }
    }
}
