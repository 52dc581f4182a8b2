using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Protocol;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// <see cref="CodedAggregator"/>'s decode with a code of real coefficients: each worker pushes c_i = Σ_j B[i,j] g_j and
/// the loss Σ_j B[i,j] ℓ_j, and the step applies Σ_j g_j and reports Σ_j ℓ_j, each weighted by the decoder's a_i.
/// </summary>
public class CodedAggregatorTests
{
    private const int Workers = 5, Stragglers = 2, Length = 3, Samples = 10;

    // Partition j's gradient is j + 1 in every component and its loss 10 (j + 1): Σ_j g_j = 15, Σ_j ℓ_j = 150.
    private static double Gradient(int partition) => partition + 1;

    private static PushHeader Coded(IGradientCode code, int worker) =>
        new(worker, 0, 0, Samples, Encode(code, worker, j => 10 * Gradient(j)), CodeRow: worker);

    private static float[] CodedVector(IGradientCode code, int worker) => Enumerable.Repeat((float)Encode(code, worker, Gradient), Length).ToArray();

    private static double Encode(IGradientCode code, int worker, Func<int, double> partitionValue) =>
        Enumerable.Range(0, code.Partitions).Sum(j => code[worker, j] * partitionValue(j));

    [Fact]
    public void The_decoded_step_applies_the_sum_of_every_partitions_gradient_and_reports_the_sum_of_their_losses()
    {
        var code = new CyclicRepetitionCode(Workers, Stragglers);   // real coefficients, some negative weights to decode
        var (model, slots) = (AggregatorFixture.Model(Length), AggregatorFixture.Slots(Workers));
        var aggregator = new CodedAggregator(model, slots, totalSteps: 10, code, Log.Logger);

        Assert.False(aggregator.Accept(slots[4], Coded(code, 4), CodedVector(code, 4)).ClosedStep);
        Assert.False(aggregator.Accept(slots[1], Coded(code, 1), CodedVector(code, 1)).ClosedStep);
        Assert.True(aggregator.Accept(slots[2], Coded(code, 2), CodedVector(code, 2)).ClosedStep);

        // SGD with rate 1 from 0: minus the mean, 15 / 10; the mean loss 150 / 10.
        Assert.All(model.Parameters.ToArray(), p => Assert.Equal(-1.5f, p, 4));
        Assert.Equal(15.0, model.LastMeanLoss, 4);
        Assert.Equal(1, model.Step);
    }
}
