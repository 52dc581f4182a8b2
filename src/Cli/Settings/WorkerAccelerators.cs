using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using GpuPs.Kernels;

namespace GpuPs.Cli.Settings;

/// <summary>
/// The compute device of each worker (<c>--accelerator</c>): one choice for every worker (<c>cuda</c>), or one per worker
/// id joined by <c>+</c> (<c>cuda+simd+simd+simd</c>: worker 0 on CUDA, workers 1-3 on the SIMD CPU path), so GPU and CPU
/// workers can train in one run. Written back as it is parsed (lower case), and as that string in JSON.
/// </summary>
/// <example><c>WorkerAccelerators.Parse("cuda+simd").For(1)</c> is <see cref="AcceleratorChoice.Simd"/>.</example>
[JsonConverter(typeof(WorkerAcceleratorsJsonConverter))]
public sealed class WorkerAccelerators : IEquatable<WorkerAccelerators>
{
    private readonly AcceleratorChoice[] _choices;

    private WorkerAccelerators(AcceleratorChoice[] choices) => _choices = choices;

    /// <summary>The choices: one for all workers, or one per worker id.</summary>
    public IReadOnlyList<AcceleratorChoice> Choices => _choices;

    /// <summary>Whether the workers get different items (a list of more than one).</summary>
    public bool IsPerWorker => _choices.Length > 1;

    /// <summary>One choice for every worker.</summary>
    public static implicit operator WorkerAccelerators(AcceleratorChoice choice) => new([choice]);

    /// <summary>One choice per worker id, in order.</summary>
    /// <exception cref="ArgumentException">The list is empty.</exception>
    public static WorkerAccelerators PerWorker(params AcceleratorChoice[] choices) =>
        choices.Length > 0 ? new([.. choices]) : throw new ArgumentException("a per-worker accelerator list needs at least one item");

    /// <summary>
    /// Reads <c>auto</c>, <c>cuda</c>, <c>opencl</c>, <c>cpu</c>, <c>simd</c> (any case), or several joined by <c>+</c>.
    /// </summary>
    /// <exception cref="SettingsException">An item is none of those (the message names it and its position).</exception>
    public static WorkerAccelerators Parse(string text)
    {
        var items = (text ?? "").Split('+');
        var choices = new AcceleratorChoice[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            string item = items[i].Trim();
            if (item.Length == 0 || !Enum.TryParse(item, ignoreCase: true, out choices[i]) || !Enum.IsDefined(choices[i]))
                throw new SettingsException(
                    $"--accelerator: {(items.Length > 1 ? $"item {i + 1} ('{item}') of '{text}'" : $"'{item}'")} is not one of {string.Join(", ", Names)}; " +
                    "give one for every worker (cuda) or one per worker joined by + (cuda+simd+simd+simd)");
        }
        return new(choices);
    }

    /// <summary>The device of worker <paramref name="workerId"/>.</summary>
    /// <exception cref="SettingsException">A per-worker list has no item <paramref name="workerId"/>.</exception>
    public AcceleratorChoice For(int workerId) => !IsPerWorker ? _choices[0]
        : workerId >= 0 && workerId < _choices.Length ? _choices[workerId]
        : throw new SettingsException($"--accelerator {this} names {_choices.Length} workers' devices; worker {workerId} has none");

    /// <summary>Checks that a per-worker list has exactly one item per worker of a job of <paramref name="workers"/>.</summary>
    /// <exception cref="SettingsException">It has more or fewer.</exception>
    public void Validate(int workers)
    {
        if (IsPerWorker && _choices.Length != workers)
            throw new SettingsException($"--accelerator {this} names {_choices.Length} devices for {workers} workers; give one for every worker " +
                $"({Name(_choices[0])}) or exactly one per worker joined by +");
    }

    /// <summary>The choices as <c>--accelerator</c> takes them: lower case, joined by <c>+</c>.</summary>
    public override string ToString() => string.Join('+', _choices.Select(Name));

    /// <summary>A choice as the command line spells it (<c>cuda</c>, <c>simd</c>, …).</summary>
    public static string Name(AcceleratorChoice choice) => choice.ToString().ToLowerInvariant();

    /// <inheritdoc />
    public bool Equals(WorkerAccelerators? other) => other is not null && _choices.AsSpan().SequenceEqual(other._choices);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as WorkerAccelerators);

    /// <inheritdoc />
    public override int GetHashCode() => _choices.Aggregate(0, (hash, c) => HashCode.Combine(hash, c));

    /// <summary>The <c>--accelerator</c> option of <c>train</c>, <c>worker</c> and the benchmarks that train; read it with <see cref="Parse"/>.</summary>
    public static Option<string> Option(SettingSources sources, string fallback = "auto", string? what = null) =>
        sources.Option("accelerator", fallback, (what ?? "compute device") +
            ": auto (CUDA, then OpenCL, then SIMD CPU) | cuda | opencl | cpu (ILGPU CPU accelerator) | simd; or one per worker joined by + (cuda+simd+simd+simd: worker i gets item i)");

    private static IEnumerable<string> Names => Enum.GetNames<AcceleratorChoice>().Select(n => n.ToLowerInvariant());
}

/// <summary>Writes <see cref="WorkerAccelerators"/> as its <c>--accelerator</c> string and reads it back.</summary>
public sealed class WorkerAcceleratorsJsonConverter : JsonConverter<WorkerAccelerators>
{
    /// <inheritdoc />
    public override WorkerAccelerators Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        try { return WorkerAccelerators.Parse(reader.GetString() ?? ""); }
        catch (SettingsException e) { throw new JsonException(e.Message); }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, WorkerAccelerators value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
