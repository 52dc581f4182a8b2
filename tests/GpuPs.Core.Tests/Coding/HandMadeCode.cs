using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>A <see cref="GradientCode"/> of a B written in the test.</summary>
internal sealed class HandMadeCode(double[,] b, int stragglers = 0, IReadOnlyList<double>? partitionWeights = null)
    : GradientCode("hand-made", "test matrix", stragglers, b, partitionWeights);
