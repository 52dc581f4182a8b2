using System.CommandLine;
using System.Globalization;
using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Cli.Settings;

/// <summary>
/// The command-line options that define a job (shared by <c>gpups train</c> and <c>gpups server</c>): each option is declared
/// once with how it reads from and writes to <see cref="TrainSettings"/>, so binding and the arguments that reproduce a job
/// in a child process cannot drift apart.
/// </summary>
public sealed class JobOptions
{
    private static readonly TrainSettings Defaults = new();
    private readonly List<Option> _options = [];
    private readonly List<Func<TrainSettings, ParseResult, TrainSettings>> _binders = [];
    private readonly List<Func<TrainSettings, string[]>> _writers = [];

    public JobOptions(SettingSources s)
    {
        Add(s, "dataset", x => x.Dataset, (x, v) => x with { Dataset = v }, "data set: digits | breast-cancer | synthetic[:rows=5000,features=100,classes=2,separation=1] | csv:PATH | libsvm:PATH");
        Add(s, "model", x => x.Model, (x, v) => x with { Model = v }, "model: logistic | softmax | mlp");
        Add(s, "hidden", x => x.Hidden, (x, v) => x with { Hidden = v }, "hidden units of the MLP");
        Add(s, "workers", x => x.Workers, (x, v) => x with { Workers = v }, "number of workers");
        Add(s, "servers", x => x.Servers, (x, v) => x with { Servers = v }, "number of parameter-server shards");
        Add(s, "mode", x => x.Mode, (x, v) => x with { Mode = v }, "aggregation: bsp | asp | ssp | coded | multi-message | backup");
        Add(s, "staleness", x => x.Staleness, (x, v) => x with { Staleness = v }, "SSP bound: steps a worker may run ahead of the slowest");
        Add(s, "code", x => x.Code, (x, v) => x with { Code = v }, "gradient code (coded, multi-message): auto (fractional where (s+1) | n, else cyclic) | fractional | cyclic | uncoded");
        Add(s, "stragglers", x => x.Stragglers, (x, v) => x with { Stragglers = v }, "s: stragglers tolerated; coded and multi-message give each worker s+1 partitions, backup closes a step with n-s pushes");
        Add(s, "straggler-model", x => x.StragglerModel, (x, v) => x with { StragglerModel = v }, "injected delays: none | persistent:count=2,factor=10 (10x as long as usual) | persistent:workers=2+5,delay=0.5 (exactly 0.5 s late) | shifted-exponential:shift=0.05,rate=20 | bimodal:p=0.1,delay=0.5 | throttle:count=2,factor=4 (persistent and throttle take count=N or workers=I+J; each may add unit=SECONDS of simulated compute per partition)");
        Add(s, "epochs", x => x.Epochs, (x, v) => x with { Epochs = v }, "passes over each worker's partition");
        Add(s, "steps", x => x.Steps, (x, v) => x with { Steps = v }, "steps per worker (overrides --epochs when > 0)");
        Add(s, "batch-size", x => x.BatchSize, (x, v) => x with { BatchSize = v }, "rows per partition per step (0 = whole partition: full-batch gradient descent)");
        Add(s, "optimizer", x => x.Optimizer, (x, v) => x with { Optimizer = v }, "server optimizer: sgd | momentum | adam");
        Add(s, "learning-rate", x => x.LearningRate, (x, v) => x with { LearningRate = v }, "learning rate");
        Add(s, "momentum", x => x.Momentum, (x, v) => x with { Momentum = v }, "momentum (momentum optimizer)");
        Add(s, "seed", x => x.Seed, (x, v) => x with { Seed = v }, "seed of data split, partitioning and initialisation");
        Add(s, "test-fraction", x => x.TestFraction, (x, v) => x with { TestFraction = v }, "held-out share of the data set");
        Add(s, "heartbeat-timeout-ms", x => x.HeartbeatTimeoutMs, (x, v) => x with { HeartbeatTimeoutMs = v }, "a worker silent this long is evicted");
        Add(s, "step-timeout-ms", x => x.StepTimeoutMs, (x, v) => x with { StepTimeoutMs = v }, "deadline of each worker call");
        Add(s, "wire-format", x => x.WireFormat, (x, v) => x with { WireFormat = v }, "how workers push gradients: f32 (exact) | bf16 (half the bytes, with error feedback on the worker; not with --mode coded)");
        Add(s, "compression", x => x.Compression, (x, v) => x with { Compression = v }, "how workers compress pushes, with error feedback: none | topk (the --topk-ratio largest values, as index/value pairs) | sign (1 bit a value and a scale per 1024; not with --mode coded: compress the pulls there)");
        Add(s, "pull-compression", x => x.PullCompression, (x, v) => x with { PullCompression = v }, "how servers compress pulls: none | topk | sign (the delta against each worker's copy, kept per worker on the server; exact every --full-pull-every pulls)");
        Add(s, "topk-ratio", x => x.TopKRatio, (x, v) => x with { TopKRatio = v }, "topk: share of the values a compressed message carries, in (0, 1]");
        Add(s, "momentum-correction", x => x.MomentumCorrection, (x, v) => x with { MomentumCorrection = v }, "compressed pushes: Deep Gradient Compression's momentum correction m in [0, 1) on the worker (0: off; use with --optimizer sgd)");
        Add(s, "full-pull-every", x => x.FullPullEvery, (x, v) => x with { FullPullEvery = v }, "compressed pulls: every this many pulls of a worker carry the exact parameters");
        Add(s, "schedule", x => x.Schedule, (x, v) => x with { Schedule = v }, "when workers push: simultaneous (as soon as ready) | round-robin (R2SP: pushes go by turns, at most --push-concurrency on a shard's link at a time, in the order shard 0 plans from the workers' measured compute and transfer times)");
        Add(s, "push-concurrency", x => x.PushConcurrency, (x, v) => x with { PushConcurrency = v }, "round-robin: transfers that may share a server link at a time");
        Add(s, "frame-checksum", x => x.FrameChecksum, (x, v) => x with { FrameChecksum = v }, "what checks the data plane's large payloads end to end: auto (xxh3 on plain TCP; none over TLS, whose AEAD authenticates every record) | xxh3 (XXH3-64 of every frame) | none (TCP's 16-bit checksum and the link's CRC only; ~15 % less CPU per 4 MiB transfer on each side); servers refuse a client asking for less than their setting");
        Add(s, "assignment", x => x.Assignment, (x, v) => x with { Assignment = v }, "how data is shared: uniform | proportional (in proportion to each worker's measured speed, rebalanced when speeds drift; bsp, backup, coded: the heterogeneity-aware code; bsp: a worker whose rows would not shorten the step gets none) | proportional-all (no zero shares)");
    }

    public void AddTo(Command command)
    {
        foreach (var o in _options) command.Options.Add(o);
    }

    /// <summary>The job settings as parsed (other fields of <paramref name="baseline"/> are kept).</summary>
    public TrainSettings Bind(ParseResult parse, TrainSettings? baseline = null) =>
        _binders.Aggregate(baseline ?? Defaults, (settings, bind) => bind(settings, parse));

    /// <summary>The command-line arguments that reproduce <paramref name="settings"/>' job options in a child process.</summary>
    public static IEnumerable<string> ToArguments(TrainSettings settings) =>
        new JobOptions(SettingSources.Empty)._writers.SelectMany(write => write(settings));

    /// <summary>The job settings that <see cref="ToArguments"/> wrote (defaults for options it lacks).</summary>
    /// <exception cref="SettingsException">An argument that is not a job option or a value of the wrong type.</exception>
    public static TrainSettings FromArguments(IReadOnlyList<string> arguments)
    {
        var job = new JobOptions(SettingSources.Empty);
        var command = new Command("job");
        job.AddTo(command);
        var parse = command.Parse(arguments.ToArray());
        if (parse.Errors.Count > 0) throw new SettingsException($"recorded job options '{string.Join(' ', arguments)}': {string.Join(" ", parse.Errors.Select(e => e.Message))}");
        return job.Bind(parse);
    }

    private void Add<T>(SettingSources s, string name, Func<TrainSettings, T> get, Func<TrainSettings, T, TrainSettings> with, string description)
    {
        var option = s.Option(name, get(Defaults), description);
        _options.Add(option);
        _binders.Add((settings, parse) => with(settings, parse.GetValue(option)!));
        // Enums as users type them (multi-message, sgd), so that a recorded command reads like a typed one.
        _writers.Add(settings => ["--" + name, get(settings) is Enum e
            ? System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(e.ToString())
            : Convert.ToString(get(settings), CultureInfo.InvariantCulture)!]);
    }
}
