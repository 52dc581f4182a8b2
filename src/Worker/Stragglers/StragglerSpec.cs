using System.Globalization;

namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The spec grammar <c>MODEL[:key=value,...]</c>: one table of models with their keys, defaults and domains, from which
/// parsing, validation, the normalised spec and the "accepted forms" of error messages are all derived, so they cannot
/// drift apart. Model and key names are case-insensitive; omitted keys take their defaults.
/// </summary>
internal static class StragglerSpec
{
    private enum Domain { NonNegative, Positive, Probability, WorkerCount, Factor, WholeFactor }

    private sealed record Key(string Name, double Default, Domain Domain);

    private sealed record Form(string Name, Key[] Keys, Func<double[], StragglerModel> Create);

    /// <summary>Accepted by every model: the simulated compute per partition, in seconds.</summary>
    private static readonly Key Unit = new("unit", 0, Domain.NonNegative);

    private static readonly Form[] Forms =
    [
        new("none", [], _ => new NoStragglers()),
        new("persistent", [new("count", 2, Domain.WorkerCount), new("factor", 10, Domain.Factor)],
            v => new PersistentStragglers((int)v[0], v[1])),
        new("shifted-exponential", [new("shift", 0.05, Domain.NonNegative), new("rate", 20, Domain.Positive)],
            v => new ShiftedExponentialDelay(v[0], v[1])),
        new("bimodal", [new("p", 0.1, Domain.Probability), new("delay", 0.5, Domain.NonNegative)],
            v => new BimodalDelay(v[0], v[1])),
        new("throttle", [new("count", 2, Domain.WorkerCount), new("factor", 4, Domain.WholeFactor)],
            v => new ThrottledWorkers((int)v[0], (int)v[1])),
    ];

    private static readonly string AcceptedForms =
        string.Join(" | ", Forms.Select(f => Format(f.Name, f.Keys, f.Keys.Select(k => k.Default).ToArray(), unit: 0)))
        + $" (each also takes {Unit.Name}=SECONDS, default {Unit.Default})";

    /// <summary>Parses and validates <paramref name="spec"/> for a cluster of <paramref name="workers"/> workers.</summary>
    /// <exception cref="ArgumentException">One line naming the bad part and listing the accepted forms.</exception>
    public static (StragglerModel Model, double UnitSeconds, string Normalised) Parse(string spec, int workers)
    {
        var text = spec.Trim();
        var colon = text.IndexOf(':');
        var name = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var form = Forms.FirstOrDefault(f => f.Name == name)
            ?? throw Bad(spec, $"unknown model \"{name}\"");

        var keys = form.Keys.Append(Unit).ToArray();
        var values = keys.Select(k => k.Default).ToArray();
        var given = new bool[keys.Length];
        if (colon >= 0)
        {
            foreach (var part in text[(colon + 1)..].Split(','))
            {
                var eq = part.IndexOf('=');
                if (eq < 0)
                    throw Bad(spec, $"\"{part.Trim()}\" is not key=value");
                var keyName = part[..eq].Trim().ToLowerInvariant();
                var index = Array.FindIndex(keys, k => k.Name == keyName);
                if (index < 0)
                    throw Bad(spec, $"unknown key \"{keyName}\" for {form.Name} (its keys: {string.Join(", ", keys.Select(k => k.Name))})");
                if (given[index])
                    throw Bad(spec, $"key \"{keyName}\" given twice");
                given[index] = true;
                values[index] = Value(spec, keys[index], part[(eq + 1)..].Trim(), workers);
            }
        }

        var modelValues = values[..form.Keys.Length];
        return (form.Create(modelValues), values[^1], Format(form.Name, form.Keys, modelValues, values[^1]));
    }

    private static double Value(string spec, Key key, string text, int workers)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw Bad(spec, $"{key.Name}=\"{text}\" is not a finite number");
        var problem = key.Domain switch
        {
            Domain.NonNegative when v < 0 => "must be >= 0",
            Domain.Positive when v <= 0 => "must be > 0",
            Domain.Probability when v is < 0 or > 1 => "must be in [0, 1]",
            Domain.WorkerCount when v < 0 || v != Math.Floor(v) => "must be a whole number >= 0",
            Domain.WorkerCount when v > workers => $"exceeds the {workers} workers",
            Domain.Factor when v < 1 => "must be >= 1 (a straggler is never faster)",
            Domain.WholeFactor when v < 1 || v != Math.Floor(v) || v > int.MaxValue => "must be a whole number >= 1 (it is a repeat count)",
            _ => null,
        };
        return problem is null ? v : throw Bad(spec, $"{key.Name}={text} {problem}");
    }

    /// <summary>The normalised spec: lower-case, every model key in table order, unit only when not zero.</summary>
    private static string Format(string name, Key[] keys, double[] values, double unit)
    {
        var parts = keys.Select((k, i) => $"{k.Name}={Number(values[i])}").ToList();
        if (unit != 0)
            parts.Add($"{Unit.Name}={Number(unit)}");
        return parts.Count == 0 ? name : $"{name}:{string.Join(",", parts)}";
    }

    /// <summary>Shortest round-trip invariant form, so the normalised spec parses back to the same values.</summary>
    internal static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static ArgumentException Bad(string spec, string problem) =>
        new($"Bad straggler spec \"{spec}\": {problem}. Accepted: {AcceptedForms}.");
}
