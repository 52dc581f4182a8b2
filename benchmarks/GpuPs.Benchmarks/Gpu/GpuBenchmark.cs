using System.Diagnostics;
using System.Globalization;

using GpuPs.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuPs.Benchmarks.Gpu;

/// <summary>
/// Device-side figures of issue 14 on one ILGPU device, in this process: the device-to-device copy bandwidth (the
/// baseline of memory-bound kernels), the optimizer updates run on device-resident vectors (GB/s and share of the
/// copy's), and the loss+gradient step of the softmax and MLP models with each matrix-product path (cuBLAS, the ILGPU
/// kernel), compute alone and with the step's parameter upload and gradient download, against PyTorch's step on the
/// same GPU where <see cref="GpuBenchmarkOptions.TorchReference"/> names its CSV. Every repetition ends with a device
/// synchronize. Blocking; uses the whole device.
/// </summary>
public static class GpuBenchmark
{
    public static IReadOnlyList<GpuBenchmarkRow> Run(GpuBenchmarkOptions o, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Repetitions, 1);
        if (o.Accelerator is not (AcceleratorChoice.Cuda or AcceleratorChoice.OpenCL or AcceleratorChoice.Cpu))
            throw new ArgumentException($"gpups bench gpu needs an ILGPU device (cuda, opencl or cpu), not {o.Accelerator}");
        // Accelerators.Create's own refusal advises "cpu or simd", the choices of train and worker; simd is none here.
        if (!Accelerators.IsAvailable(o.Accelerator))
            throw new InvalidOperationException($"gpups bench gpu: no {o.Accelerator.ToString().ToLowerInvariant()} device found; "
                + "--accelerator cpu runs it on the ILGPU CPU accelerator (with small sizes, e.g. --rows 256 --copy-floats 100000 --vector-floats 100000)");
        var torch = o.TorchReference is { } path ? TorchReference.Read(path) : new Dictionary<string, double>();
        var rows = new List<GpuBenchmarkRow>();
        void Add(GpuBenchmarkRow row)
        {
            rows.Add(row);
            progress?.Invoke($"{row.What} on {row.Device} [{row.Products}]: mean {row.MeanMs:F3} ms, p50 {row.P50Ms:F3} ms, "
                + $"{(row.GbPerSecond > 0 ? $"{row.GbPerSecond:F0} GB/s" : $"{row.TflopPerSecond:F1} TFLOP/s")}, {row.ShareOfBaseline:P0} of {row.Baseline}");
        }

        // One random batch for every step timed: both models read o.Features features and o.Classes classes.
        var batch = Batch.Random(o.Rows, o.Features, o.Classes);
        double copyGbPerSecond = 0;
        // Cuda: first with cuBLAS where it loads, then again with the ILGPU kernel for comparison; elsewhere the ILGPU kernel alone.
        for (var choice = MatrixProductChoice.Auto; ; choice = MatrixProductChoice.Ilgpu)
        {
            using var backend = (IlgpuBackend)Accelerators.Create(o.Accelerator, products: choice);
            if (copyGbPerSecond == 0)
            {
                var copy = Copy(backend, o);
                copyGbPerSecond = copy.GbPerSecond;
                Add(copy with { ShareOfBaseline = torch.TryGetValue("copy d2d 1GiB", out double torchCopy) ? copy.GbPerSecond / torchCopy : double.NaN,
                    Baseline = "torch copy" });
                foreach (var kind in new[] { OptimizerKind.Sgd, OptimizerKind.Momentum, OptimizerKind.Adam })
                {
                    var update = Optimizer(backend, kind, o);
                    Add(update with { ShareOfBaseline = update.GbPerSecond / copyGbPerSecond, Baseline = "device copy" });
                }
                int parameterCount = new ModelShape(ModelKind.Mlp, o.Features, o.Classes, o.Hidden).ParameterCount;
                foreach (var row in Transfers(backend, parameterCount, o)) Add(row);
            }
            foreach (var (shape, torchName) in new[]
            {
                (new ModelShape(ModelKind.Softmax, o.Features, o.Classes), "softmax autograd"),
                (new ModelShape(ModelKind.Mlp, o.Features, o.Classes, o.Hidden), "mlp explicit cublas"),
            })
            {
                foreach (var (withTransfers, staged) in new[] { (false, true), (true, true), (true, false) })
                {
                    var step = Step(backend, shape, batch, withTransfers, staged, o);
                    // PyTorch's step is compute alone (its tensors live on the device): the ratio is its p50 over ours.
                    double share = !withTransfers && torch.TryGetValue(torchName, out double torchMs) ? torchMs / step.P50Ms : double.NaN;
                    Add(step with { Baseline = withTransfers ? "" : $"torch {torchName}", ShareOfBaseline = share });
                }
            }
            if (backend.MatrixProduct is not CuBlasMatrixProduct) break;
        }
        return rows;
    }

    private static GpuBenchmarkRow Copy(IlgpuBackend backend, GpuBenchmarkOptions o)
    {
        var accelerator = backend.Accelerator;
        lock (backend.DeviceLock)
        {
            accelerator.Bind();
            using var source = accelerator.Allocate1D<float>(o.CopyLength);
            using var target = accelerator.Allocate1D<float>(o.CopyLength);
            source.MemSetToZero();
            var times = Time(accelerator, o, () => source.View.CopyTo(target.View));
            return Row($"copy d2d {Size(o.CopyLength)}", backend, times, bytes: 2.0 * o.CopyLength * sizeof(float), flops: 0);
        }
    }

    /// <summary>One optimizer update on device-resident vectors: the kernel alone, no host transfers.</summary>
    private static GpuBenchmarkRow Optimizer(IlgpuBackend backend, OptimizerKind kind, GpuBenchmarkOptions o)
    {
        var accelerator = backend.Accelerator;
        int n = o.VectorLength;
        lock (backend.DeviceLock)
        {
            accelerator.Bind();
            using var parameters = accelerator.Allocate1D<float>(n);
            using var gradient = accelerator.Allocate1D<float>(n);
            using var first = accelerator.Allocate1D<float>(n);
            using var second = accelerator.Allocate1D<float>(n);
            foreach (var buffer in new[] { parameters, gradient, first, second }) buffer.MemSetToZero();
            var args = new OptimizerStepArgs(1e-3f, 0.9f, 0.9f, 0.999f, 1e-8f, 1e-4f, 0.1f, 0.001f);
            var kernel = backend.Kernels.Optimizer(kind);
            var split = backend.Launch.Split(n);
            var times = Time(accelerator, o, () => kernel(split.Threads, split, args, parameters.View, gradient.View, first.View, second.View));
            // Reads parameters, gradient and state, writes parameters and state.
            int stateVectors = kind switch { OptimizerKind.Sgd => 0, OptimizerKind.Momentum => 1, _ => 2 };
            return Row($"{kind} update {Size(n)}", backend, times, bytes: (3.0 + 2 * stateVectors) * n * sizeof(float), flops: 0);
        }
    }

    /// <summary>
    /// The MLP's parameter vector to the device and back, from and to ordinary (pageable) managed memory as the gradient
    /// kernel copies it, and from and to page-locked host memory (the DMA alone): what pinned staging buffers could save.
    /// </summary>
    private static IEnumerable<GpuBenchmarkRow> Transfers(IlgpuBackend backend, int length, GpuBenchmarkOptions o)
    {
        var accelerator = backend.Accelerator;
        var host = new float[length];
        double bytes = (double)length * sizeof(float);
        string size = Size(length);
        var rows = new List<GpuBenchmarkRow>();
        lock (backend.DeviceLock)
        {
            accelerator.Bind();
            using var device = accelerator.Allocate1D<float>(length);
            using var pinned = accelerator.AllocatePageLocked1D<float>(length);
            var stream = accelerator.DefaultStream;
            rows.Add(Row($"upload {size} pageable", backend, Time(accelerator, o, () => device.View.CopyFromCPU(host)), bytes, 0));
            rows.Add(Row($"upload {size} page-locked", backend, Time(accelerator, o, () => device.View.CopyFromPageLockedAsync(stream, pinned)), bytes, 0));
            rows.Add(Row($"download {size} pageable", backend, Time(accelerator, o, () => device.View.CopyToCPU(host)), bytes, 0));
            rows.Add(Row($"download {size} page-locked", backend, Time(accelerator, o, () => device.View.CopyToPageLockedAsync(stream, pinned)), bytes, 0));
        }
        return rows;
    }

    /// <summary>
    /// A worker's gradient step on a whole batch: compute alone (forward, backward, the loss sum back to the host), or
    /// with the parameter upload before and the gradient download after (what a worker pays per step), through the
    /// page-locked staging buffer or straight from and to pageable memory.
    /// </summary>
    private static GpuBenchmarkRow Step(IlgpuBackend backend, ModelShape shape, Batch batch, bool withTransfers, bool staged, GpuBenchmarkOptions o)
    {
        using var kernel = new IlgpuGradientKernel(backend, shape, stageTransfers: staged);
        kernel.SetData(batch.Features, batch.Labels);
        var parameters = ModelInitializer.Initialize(shape, 1);
        var gradient = new float[shape.ParameterCount];
        kernel.LoadParameters(parameters);
        var times = Time(backend.Accelerator, o, withTransfers
            ? () =>
            {
                kernel.LoadParameters(parameters);
                kernel.AddGradient(0, o.Rows);
                kernel.ReadGradient(gradient);
            }
            : () => kernel.AddGradient(0, o.Rows));
        string what = $"{shape.Kind} step {o.Rows}x{shape.Features}{(shape.Kind == ModelKind.Mlp ? $"-{shape.Hidden}" : "")}-{shape.Classes}"
            + (withTransfers ? staged ? " + transfers page-locked" : " + transfers pageable" : "");
        return Row(what, backend, times, bytes: 0, flops: StepFlops(shape, o.Rows));
    }

    /// <summary>A batch of uniform features in [-1, 1) and uniform labels, seeded.</summary>
    private sealed record Batch(float[] Features, int[] Labels)
    {
        public static Batch Random(int rows, int features, int classes)
        {
            var random = new Random(1);
            var values = new float[(long)rows * features];
            for (long i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            var labels = new int[rows];
            for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(classes);
            return new Batch(values, labels);
        }
    }

    /// <summary>
    /// Multiply-adds of forward and backward, 2 FLOP each, counted as torch_reference.py counts them: layer 1's forward
    /// and weight gradient (no gradient of the inputs), layer 2's forward, weight gradient and W2ᵀr.
    /// </summary>
    internal static double StepFlops(ModelShape shape, int rows) => shape.Kind == ModelKind.Mlp
        ? 2.0 * rows * (2.0 * shape.Hidden * shape.Features + 3.0 * shape.Classes * shape.Hidden)
        : 2.0 * rows * 2.0 * shape.Classes * shape.Features;

    private static double[] Time(Accelerator accelerator, GpuBenchmarkOptions o, Action run)
    {
        for (int i = 0; i < o.Warmup; i++) run();
        accelerator.Synchronize();
        var times = new double[o.Repetitions];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            accelerator.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return times;
    }

    private static GpuBenchmarkRow Row(string what, IlgpuBackend backend, double[] times, double bytes, double flops)
    {
        var sorted = times.Order().ToArray();
        double p50 = sorted[sorted.Length / 2];
        double p99 = sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(0.99 * sorted.Length) - 1)];
        // Only the gradient steps multiply matrices.
        return new GpuBenchmarkRow(what, backend.Accelerator.Name, flops > 0 ? backend.MatrixProduct.Name : "", times.Average(), p50, p99,
            bytes > 0 ? bytes / (p50 / 1e3) / 1e9 : 0, flops > 0 ? flops / (p50 / 1e3) / 1e12 : 0, "", double.NaN);
    }

    private static string Size(long floats) => (floats * sizeof(float)) switch
    {
        >= 1 << 30 and var bytes => $"{bytes / (double)(1 << 30):0.#}GiB",
        >= 1 << 20 and var bytes => $"{bytes / (double)(1 << 20):0.#}MiB",
        >= 1 << 10 and var bytes => $"{bytes / 1024.0:0.#}KiB",
        var bytes => $"{bytes}B",
    };

    /// <summary>torch_reference.py's CSV: the p50 of each measurement (ms), and the copy's GB/s under "copy d2d 1GiB".</summary>
    private static class TorchReference
    {
        public static Dictionary<string, double> Read(string path)
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length == 0) throw new FormatException($"{path}: empty; expected torch_reference.py's CSV");
            var header = lines[0].Split(',');
            int what = Array.IndexOf(header, "what"), p50 = Array.IndexOf(header, "p50_ms"), gb = Array.IndexOf(header, "gb_per_s");
            if (what < 0 || p50 < 0 || gb < 0) throw new FormatException($"{path}: no what/p50_ms/gb_per_s columns; expected torch_reference.py's CSV");
            var values = new Dictionary<string, double>();
            foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
            {
                var cells = line.Split(',');
                string name = cells[what];
                values[name] = double.Parse(name.StartsWith("copy", StringComparison.Ordinal) ? cells[gb] : cells[p50], CultureInfo.InvariantCulture);
            }
            return values;
        }
    }
}
