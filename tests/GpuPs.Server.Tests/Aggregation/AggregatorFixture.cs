using GpuPs.Core.Aggregation;
using GpuPs.Kernels;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>An aggregator's surroundings without a shard: a model under SGD with learning rate 1, and registered slots.</summary>
internal static class AggregatorFixture
{
    public static ShardModel Model(int length) =>
        new(new float[length], () => Accelerators.Create(AcceleratorChoice.Simd).CreateOptimizer(new OptimizerSettings(OptimizerKind.Sgd, 1f), length), Log.Logger);

    public static WorkerSlot[] Slots(int workers) => Enumerable.Range(0, workers).Select(i => new WorkerSlot(i) { Registered = true }).ToArray();
}
