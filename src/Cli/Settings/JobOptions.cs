using System.CommandLine;
using GpuPs.Kernels;
using GpuPs.Protocol;

namespace GpuPs.Cli.Settings;

/// <summary>The command-line options that define a job (shared by <c>gpups train</c> and <c>gpups server</c>) and their binding to <see cref="TrainSettings"/>.</summary>
public sealed class JobOptions
{
    private static readonly TrainSettings D = new();

    public JobOptions(SettingSources s)
    {
        Dataset = s.Option("dataset", D.Dataset, "data set: digits | breast-cancer | synthetic[:rows=5000,features=100,classes=2] | csv:PATH | libsvm:PATH");
        Model = s.Option("model", D.Model, "model: logistic | softmax | mlp");
        Hidden = s.Option("hidden", D.Hidden, "hidden units of the MLP");
        Workers = s.Option("workers", D.Workers, "number of workers");
        Servers = s.Option("servers", D.Servers, "number of parameter-server shards");
        Mode = s.Option("mode", D.Mode, "aggregation: bsp | asp | ssp | coded | multi-message | backup");
        Staleness = s.Option("staleness", D.Staleness, "SSP bound: steps a worker may run ahead of the slowest");
        Code = s.Option("code", D.Code, "gradient code (coded, multi-message): auto (fractional where (s+1) | n, else cyclic) | fractional | cyclic | uncoded");
        Stragglers = s.Option("stragglers", D.Stragglers, "s: stragglers tolerated; coded and multi-message give each worker s+1 partitions, backup closes a step with n-s pushes");
        StragglerModel = s.Option("straggler-model", D.StragglerModel, "injected delays: none | persistent:count=2,factor=10 | shifted-exponential:shift=0.05,rate=20 | bimodal:p=0.1,delay=0.5 | throttle:count=2,factor=4 (each may add unit=SECONDS of simulated compute per partition)");
        Epochs = s.Option("epochs", D.Epochs, "passes over each worker's partition");
        Steps = s.Option("steps", D.Steps, "steps per worker (overrides --epochs when > 0)");
        BatchSize = s.Option("batch-size", D.BatchSize, "rows per worker per step (0 = whole partition: full-batch gradient descent)");
        Optimizer = s.Option("optimizer", D.Optimizer, "server optimizer: sgd | momentum | adam");
        LearningRate = s.Option("learning-rate", D.LearningRate, "learning rate");
        Momentum = s.Option("momentum", D.Momentum, "momentum (momentum optimizer)");
        Seed = s.Option("seed", D.Seed, "seed of data split, partitioning and initialisation");
        TestFraction = s.Option("test-fraction", D.TestFraction, "held-out share of the data set");
        HeartbeatTimeoutMs = s.Option("heartbeat-timeout-ms", D.HeartbeatTimeoutMs, "a worker silent this long is evicted");
        StepTimeoutMs = s.Option("step-timeout-ms", D.StepTimeoutMs, "deadline of each worker call");
    }

    public Option<string> Dataset { get; }
    public Option<Kernels.ModelKind> Model { get; }
    public Option<int> Hidden { get; }
    public Option<int> Workers { get; }
    public Option<int> Servers { get; }
    public Option<SyncMode> Mode { get; }
    public Option<int> Staleness { get; }
    public Option<string> Code { get; }
    public Option<int> Stragglers { get; }
    public Option<string> StragglerModel { get; }
    public Option<int> Epochs { get; }
    public Option<long> Steps { get; }
    public Option<int> BatchSize { get; }
    public Option<OptimizerKind> Optimizer { get; }
    public Option<float> LearningRate { get; }
    public Option<float> Momentum { get; }
    public Option<ulong> Seed { get; }
    public Option<double> TestFraction { get; }
    public Option<int> HeartbeatTimeoutMs { get; }
    public Option<int> StepTimeoutMs { get; }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Dataset, Model, Hidden, Workers, Servers, Mode, Staleness, Code, Stragglers, StragglerModel, Epochs, Steps, BatchSize, Optimizer,
                     LearningRate, Momentum, Seed, TestFraction, HeartbeatTimeoutMs, StepTimeoutMs })
            command.Options.Add(o);
    }

    public TrainSettings Bind(ParseResult r) => new()
    {
        Dataset = r.GetValue(Dataset)!,
        Model = r.GetValue(Model),
        Hidden = r.GetValue(Hidden),
        Workers = r.GetValue(Workers),
        Servers = r.GetValue(Servers),
        Mode = r.GetValue(Mode),
        Staleness = r.GetValue(Staleness),
        Code = r.GetValue(Code)!,
        Stragglers = r.GetValue(Stragglers),
        StragglerModel = r.GetValue(StragglerModel)!,
        Epochs = r.GetValue(Epochs),
        Steps = r.GetValue(Steps),
        BatchSize = r.GetValue(BatchSize),
        Optimizer = r.GetValue(Optimizer),
        LearningRate = r.GetValue(LearningRate),
        Momentum = r.GetValue(Momentum),
        Seed = r.GetValue(Seed),
        TestFraction = r.GetValue(TestFraction),
        HeartbeatTimeoutMs = r.GetValue(HeartbeatTimeoutMs),
        StepTimeoutMs = r.GetValue(StepTimeoutMs),
    };

    /// <summary>The command-line arguments that reproduce <paramref name="s"/>'s job options in a child process.</summary>
    public static IEnumerable<string> ToArguments(TrainSettings s)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new (string Name, object Value)[]
        {
            ("dataset", s.Dataset), ("model", s.Model), ("hidden", s.Hidden), ("workers", s.Workers), ("servers", s.Servers),
            ("mode", s.Mode), ("staleness", s.Staleness), ("code", s.Code), ("stragglers", s.Stragglers), ("straggler-model", s.StragglerModel), ("epochs", s.Epochs), ("steps", s.Steps), ("batch-size", s.BatchSize),
            ("optimizer", s.Optimizer), ("learning-rate", s.LearningRate), ("momentum", s.Momentum), ("seed", s.Seed),
            ("test-fraction", s.TestFraction), ("heartbeat-timeout-ms", s.HeartbeatTimeoutMs), ("step-timeout-ms", s.StepTimeoutMs),
        }.SelectMany(o => new[] { "--" + o.Name, Convert.ToString(o.Value, inv)! });
    }
}
