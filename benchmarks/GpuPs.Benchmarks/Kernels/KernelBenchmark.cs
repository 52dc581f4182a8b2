using System.Diagnostics;
using System.Runtime;

using GpuPs.Kernels;

namespace GpuPs.Benchmarks.Kernels;

/// <summary>
/// Times the kernels on the SIMD backend, the ILGPU CPU accelerator and CUDA (when present), in this process:
/// warm-up runs, then the median of several Stopwatch-timed runs. ILGPU timings include the host↔device transfers
/// each call makes (what a worker or server pays): a loss+gradient case is one plain worker step (load the parameters,
/// add the batch's gradient, read it back). Blocking; uses the whole machine (run nothing else meanwhile).
/// </summary>
public static class KernelBenchmark
{
    /// <summary>A kernel to time: prepares its data on a backend and returns the timed action.</summary>
    private sealed record Case(string Name, double Work, string WorkUnit, Func<IComputeBackend, Prepared> Prepare);

    /// <summary>The timed action and what it owns (disposed after timing).</summary>
    private sealed record Prepared(Action Run, params IDisposable[] Owned);

    public static IReadOnlyList<KernelBenchmarkResult> Run(KernelBenchmarkOptions o, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Repetitions, 1);
        var backends = new List<IComputeBackend> { Accelerators.Create(AcceleratorChoice.Simd) };
        try
        {
            if (o.IncludeIlgpuCpu) backends.Add(Accelerators.Create(AcceleratorChoice.Cpu));
            if (o.IncludeCuda && Accelerators.IsAvailable(AcceleratorChoice.Cuda)) backends.Add(Accelerators.Create(AcceleratorChoice.Cuda));

            var results = new List<KernelBenchmarkResult>();
            foreach (var c in Cases(o))
            {
                double simdMs = double.NaN;
                foreach (var backend in backends)
                {
                    double ms = Time(c, backend, o);
                    if (backend.Kind == AcceleratorChoice.Simd) simdMs = ms;
                    var result = new KernelBenchmarkResult(c.Name, backend.DeviceName, ms, ms / simdMs, Throughput(c, ms));
                    results.Add(result);
                    progress?.Invoke($"{c.Name} on {backend.DeviceName}: {ms:F3} ms ({result.RatioToSimd:F2}x SIMD), {result.Note}");
                }
            }
            return results;
        }
        finally
        {
            foreach (var backend in backends) backend.Dispose();
        }
    }

    private static IEnumerable<Case> Cases(KernelBenchmarkOptions o)
    {
        int n = o.VectorLength;
        var models = new[]
        {
            new ModelShape(ModelKind.Logistic, o.Features, 2),
            new ModelShape(ModelKind.Softmax, o.Features, o.Classes),
            new ModelShape(ModelKind.Mlp, o.Features, o.Classes, o.Hidden),
        };
        foreach (var shape in models)
            yield return new Case($"{shape.Kind} loss+gradient {o.Rows}x{o.Features}", GradientFlops(shape, o.Rows), "FLOP", b => Gradient(b, shape, o.Rows));
        foreach (var kind in new[] { OptimizerKind.Sgd, OptimizerKind.Momentum, OptimizerKind.Adam })
        {
            // Reads parameters, gradient and state, writes parameters and state.
            int stateVectors = kind switch { OptimizerKind.Sgd => 0, OptimizerKind.Momentum => 1, _ => 2 };
            yield return new Case($"{kind} update {Size(n)}", (3.0 + 2 * stateVectors) * n * sizeof(float), "B", b => Optimizer(b, kind, n));
        }
    }

    private static double Time(Case c, IComputeBackend backend, KernelBenchmarkOptions o)
    {
        var prepared = c.Prepare(backend);
        try
        {
            WarmUp(prepared.Run, o);
            var times = new double[o.Repetitions];
            for (int i = 0; i < times.Length; i++) times[i] = TimeOnce(prepared.Run);
            Array.Sort(times);
            return times[times.Length / 2];
        }
        finally
        {
            foreach (var owned in prepared.Owned) owned.Dispose();
        }
    }

    /// <summary>Runs until JIT tiering has settled (see <see cref="KernelBenchmarkOptions.JitQuietTime"/>).</summary>
    private static void WarmUp(Action run, KernelBenchmarkOptions o)
    {
        long start = Stopwatch.GetTimestamp();
        long quietSince = start;
        long compiled = JitInfo.GetCompiledMethodCount();
        for (int i = 1; Stopwatch.GetElapsedTime(start) < o.MaxWarmupTime; i++)
        {
            run();
            long now = JitInfo.GetCompiledMethodCount();
            if (now != compiled)
            {
                compiled = now;
                quietSince = Stopwatch.GetTimestamp();
            }
            else if (i >= o.Warmup && Stopwatch.GetElapsedTime(quietSince) >= o.JitQuietTime)
            {
                return;
            }
        }
    }

    private static double TimeOnce(Action run)
    {
        long start = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static Prepared Gradient(IComputeBackend backend, ModelShape shape, int rows)
    {
        var random = new Random(1);
        var features = new float[rows * shape.Features];
        for (int i = 0; i < features.Length; i++) features[i] = (float)(random.NextDouble() * 2 - 1);
        var labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = random.Next(shape.Classes);
        var kernel = backend.CreateGradientKernel(shape);
        kernel.SetData(features, labels);
        var parameters = shape.Kind == ModelKind.Mlp ? ModelInitializer.Initialize(shape, 1) : Filled(shape.ParameterCount, 3, 0.1f);
        var gradient = new float[shape.ParameterCount];
        return new Prepared(() =>
        {
            kernel.LoadParameters(parameters);
            kernel.AddGradient(0, rows);
            kernel.ReadGradient(gradient);
        }, kernel);
    }

    private static Prepared Optimizer(IComputeBackend backend, OptimizerKind kind, int n)
    {
        var optimizer = backend.CreateOptimizer(new OptimizerSettings(kind, LearningRate: 1e-3f, WeightDecay: 1e-4f), n);
        var parameters = Filled(n, 5);
        var gradient = Filled(n, 6);
        return new Prepared(() => optimizer.Apply(parameters, gradient), optimizer);
    }

    /// <summary>Multiply-adds of forward and backward passes, 2 FLOP each (the exp/log per output are negligible).</summary>
    private static double GradientFlops(ModelShape shape, int rows)
    {
        int outputs = shape.Kind == ModelKind.Logistic ? 1 : shape.Classes;
        double macsPerRow = shape.Kind == ModelKind.Mlp
            // Layer 1: forward and weight gradient (no input gradient); layer 2: forward, weight gradient, W2ᵀr.
            ? 2.0 * shape.Hidden * shape.Features + 3.0 * shape.Classes * shape.Hidden
            : 2.0 * outputs * shape.Features;                                              // forward, weight gradient
        return 2 * macsPerRow * rows;
    }

    private static string Throughput(Case c, double ms)
    {
        double perSecond = c.Work / (ms / 1000);
        return c.WorkUnit == "B"
            ? $"{c.Work / 1e6:F1} MB moved, {perSecond / 1e9:F2} GB/s"
            : $"{c.Work / 1e6:F1} MFLOP, {perSecond / 1e9:F2} GFLOP/s";
    }

    private static float[] Filled(int length, int seed, float bound = 1)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }

    private static string Size(int n) => n >= 1 << 20 && n % (1 << 20) == 0 ? $"{n >> 20}M" : n.ToString();
}
