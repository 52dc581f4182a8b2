using System.Globalization;

namespace GpuPs.Worker.Stragglers;

/// <summary>
/// The spec grammar <c>MODEL[:key=value,...]</c>: one table of models with their keys, defaults and domains, from which
/// parsing, validation, the normalised spec and the "accepted forms" of error messages are all derived, so they cannot
/// drift apart. Model and key names are case-insensitive; omitted keys take their defaults.
/// <para>
/// A model's keys come in slots of alternatives, at most one given per slot: <c>count=N</c> or <c>workers=I+J+…</c>
/// (which workers are slow; the ids are joined by <c>+</c> because <c>,</c> separates keys and <c>;</c> separates specs
/// in <c>gpups bench stragglers --delays</c>), and for <c>persistent</c> <c>factor=F</c> or <c>delay=SECONDS</c>.
/// A slot with no key given takes its first alternative's default.
/// </para>
/// </summary>
internal static class StragglerSpec
{
    private enum Domain { NonNegative, Positive, Probability, WorkerCount, WorkerIds, Factor, WholeFactor, Factors, Step, OptionalWorker }

    /// <param name="Name">The key as written in a spec, lower case.</param>
    /// <param name="Default">The value when the key's slot is left out.</param>
    /// <param name="Domain">The values the key accepts.</param>
    /// <param name="Example">How the accepted forms show the key's value: its default, or a placeholder.</param>
    private sealed record Key(string Name, double Default, Domain Domain, string? Example = null);

    /// <summary>Alternatives for one model parameter; the first is the default.</summary>
    private sealed record Slot(params Key[] Alternatives);

    /// <summary>The value of one slot: which alternative, and its number or worker ids.</summary>
    private sealed record Value(Key Key, double Number, int[]? Ids);

    private sealed record Form(string Name, Slot[] Slots, Func<Value[], StragglerModel> Create);

    /// <summary>Accepted by every model: the simulated compute per partition, in seconds.</summary>
    private static readonly Slot Unit = new(new Key("unit", 0, Domain.NonNegative));

    private static readonly Slot Which = new(new Key("count", 2, Domain.WorkerCount), new Key("workers", 0, Domain.WorkerIds, "I+J"));

    private static readonly Form[] Forms =
    [
        new("none", [], _ => new NoStragglers()),
        new("persistent", [Which, new(new Key("factor", 10, Domain.Factor), new Key("delay", 0, Domain.NonNegative, "SECONDS"))],
            v => v[1].Key.Name == "delay"
                ? new PersistentStragglers(Workers(v[0]), Factor: 1, Delay: v[1].Number)
                : new PersistentStragglers(Workers(v[0]), Factor: v[1].Number, Delay: 0)),
        new("shifted-exponential", [new(new Key("shift", 0.05, Domain.NonNegative)), new(new Key("rate", 20, Domain.Positive))],
            v => new ShiftedExponentialDelay(v[0].Number, v[1].Number)),
        new("bimodal", [new(new Key("p", 0.1, Domain.Probability)), new(new Key("delay", 0.5, Domain.NonNegative))],
            v => new BimodalDelay(v[0].Number, v[1].Number)),
        new("throttle", [Which, new(new Key("factor", 4, Domain.WholeFactor))],
            v => new ThrottledWorkers(Workers(v[0]), (int)v[1].Number)),
        new("slowdown", [new(new Key("factors", 1, Domain.Factors, "F+F+…")), new(new Key("at", 0, Domain.Step)), new(new Key("then", 1, Domain.Factors, "F+F+…")),
                new(new Key("late", -1, Domain.OptionalWorker)), new(new Key("delay", 0, Domain.NonNegative))],
            v => new MixedSpeeds(v[0].Ids ?? [1], (long)v[1].Number, v[2].Ids ?? [1], (int)v[3].Number, v[4].Number)),
    ];

    private static readonly string AcceptedForms =
        string.Join(" | ", Forms.Select(f => f.Slots.Length == 0
            ? f.Name
            : $"{f.Name}:{string.Join(",", f.Slots.Select(Accepted))}"))
        + $" (each also takes {Unit.Alternatives[0].Name}=SECONDS, default {Unit.Alternatives[0].Default}; [a|b]: one of them, the first by default)";

    private static string Accepted(Slot slot)
    {
        var keys = slot.Alternatives.Select(k => $"{k.Name}={k.Example ?? Number(k.Default)}").ToArray();
        return keys.Length == 1 ? keys[0] : $"[{string.Join("|", keys)}]";
    }

    /// <summary>Parses and validates <paramref name="spec"/> for a cluster of <paramref name="workers"/> workers.</summary>
    /// <exception cref="ArgumentException">One line naming the bad part and listing the accepted forms.</exception>
    public static (StragglerModel Model, double UnitSeconds, string Normalised) Parse(string spec, int workers)
    {
        var text = spec.Trim();
        var colon = text.IndexOf(':');
        var name = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var form = Forms.FirstOrDefault(f => f.Name == name)
            ?? throw Bad(spec, $"unknown model \"{name}\"");

        var slots = form.Slots.Append(Unit).ToArray();
        var values = new Value?[slots.Length];
        if (colon >= 0)
        {
            foreach (var part in text[(colon + 1)..].Split(','))
            {
                var eq = part.IndexOf('=');
                if (eq < 0)
                    throw Bad(spec, $"\"{part.Trim()}\" is not key=value");
                var keyName = part[..eq].Trim().ToLowerInvariant();
                int slot = Array.FindIndex(slots, s => s.Alternatives.Any(k => k.Name == keyName));
                if (slot < 0)
                    throw Bad(spec, $"unknown key \"{keyName}\" for {form.Name} (its keys: {string.Join(", ", slots.SelectMany(s => s.Alternatives).Select(k => k.Name))})");
                if (values[slot] is { } earlier)
                    throw Bad(spec, earlier.Key.Name == keyName
                        ? $"key \"{keyName}\" given twice"
                        : $"give {earlier.Key.Name}= or {keyName}=, not both");
                var key = slots[slot].Alternatives.First(k => k.Name == keyName);
                values[slot] = Parse(spec, key, part[(eq + 1)..].Trim(), workers);
            }
        }

        var filled = values.Select((v, i) => v ?? new Value(slots[i].Alternatives[0], slots[i].Alternatives[0].Default, null)).ToArray();
        var model = filled[..^1];
        double unit = filled[^1].Number;
        return (form.Create(model), unit, Format(form.Name, model, unit));
    }

    private static SlowWorkers Workers(Value v) => v.Ids is { } ids ? SlowWorkers.Listed(ids) : SlowWorkers.Seeded((int)v.Number);

    private static Value Parse(string spec, Key key, string text, int workers)
    {
        if (key.Domain == Domain.WorkerIds)
            return new Value(key, 0, WorkerIds(spec, key, text, workers));
        if (key.Domain == Domain.Factors)
            return new Value(key, 0, Factors(spec, key, text, workers));
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
            Domain.Step when v < 0 || v != Math.Floor(v) => "must be a whole step number >= 0 (0: never)",
            Domain.OptionalWorker when v < -1 || v >= workers || v != Math.Floor(v) => $"must be a worker id 0 … {workers - 1} or -1 (none)",
            _ => null,
        };
        return problem is null ? new Value(key, v, null) : throw Bad(spec, $"{key.Name}={text} {problem}");
    }

    /// <summary><c>I+J+…</c>: distinct worker ids below <paramref name="workers"/>, at least one.</summary>
    private static int[] WorkerIds(string spec, Key key, string text, int workers)
    {
        var ids = new List<int>();
        foreach (var part in text.Split('+', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                throw Bad(spec, $"{key.Name}=\"{text}\": \"{part}\" is not a worker id (ids are joined by +, e.g. {key.Name}=2+5)");
            if (id >= workers)
                throw Bad(spec, $"{key.Name}={text}: worker {id} is not one of the {workers} workers (ids 0 … {workers - 1})");
            if (ids.Contains(id))
                throw Bad(spec, $"{key.Name}={text}: worker {id} is listed twice");
            ids.Add(id);
        }
        return ids.Order().ToArray();
    }

    /// <summary><c>F+F+…</c>: one whole repeat count ≥ 1 per worker, in id order, at most one per worker.</summary>
    private static int[] Factors(string spec, Key key, string text, int workers)
    {
        var factors = text.Split('+', StringSplitOptions.TrimEntries)
            .Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var f) && f >= 1 ? f
                : throw Bad(spec, $"{key.Name}=\"{text}\": \"{part}\" is not a whole repeat count >= 1 (one per worker, joined by +, e.g. {key.Name}=4+2+1)"))
            .ToArray();
        return factors.Length <= workers ? factors
            : throw Bad(spec, $"{key.Name}={text}: {factors.Length} factors for {workers} workers");
    }

    /// <summary>The normalised spec: lower-case, one key per slot in table order, ids ascending, unit only when not zero.</summary>
    private static string Format(string name, Value[] values, double unit)
    {
        var parts = values.Select(v => v.Ids is { } ids ? $"{v.Key.Name}={string.Join('+', ids)}" : $"{v.Key.Name}={Number(v.Number)}").ToList();
        if (unit != 0)
            parts.Add($"{Unit.Alternatives[0].Name}={Number(unit)}");
        return parts.Count == 0 ? name : $"{name}:{string.Join(",", parts)}";
    }

    /// <summary>Shortest round-trip invariant form, so the normalised spec parses back to the same values.</summary>
    internal static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static ArgumentException Bad(string spec, string problem) =>
        new($"Bad straggler spec \"{spec}\": {problem}. Accepted: {AcceptedForms}.");
}
