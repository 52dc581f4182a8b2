using GpuPs.Core.Aggregation;
using GpuPs.Core.Coding;
using GpuPs.Core.Shards;
using GpuPs.Protocol;
using GpuPs.Tests.Shared;
using Serilog;

namespace GpuPs.Server.Tests.Aggregation;

/// <summary>
/// The coded step's closing rule against NumPy (<see cref="NumPyDecodability"/>), for every code of n = 4…8 there: with
/// arrival orders whose prefixes are every responder set (<see cref="ArrivalOrders"/>), <see cref="CodedAggregator"/>
/// closes the step on exactly the first prefix NumPy decodes — never before (a wrong gradient), never after (a wait) —
/// answers the pushes after it Late, and applies the exact sum of the partition gradients within the promised float32
/// error.
/// </summary>
public class CodedClosingRuleTests
{
    private const int Length = 256;

    public static TheoryData<string, int, int, string> Codes()
    {
        var data = new TheoryData<string, int, int, string>();
        foreach (var row in NumPyDecodability.All) data.Add(row.Code, row.Workers, row.Stragglers, row.Speeds);
        return data;
    }

    [Theory]
    [MemberData(nameof(Codes))]
    public void A_coded_step_closes_on_the_first_responder_set_NumPy_decodes_and_applies_the_exact_sum(string name, int n, int s, string speeds)
    {
        var oracle = NumPyDecodability.Of(name, n, s, speeds);
        var code = oracle.Build();
        var orders = ArrivalOrders.CoveringEverySubset(n);
        var model = AggregatorFixture.Model(Length);
        var slots = AggregatorFixture.Slots(n);
        var aggregator = new CodedAggregator(model, slots, totalSteps: orders.Count, code, Log.Logger);
        var random = new Random(n * 100 + s);
        var prefixes = new HashSet<ulong>();

        foreach (var (step, order) in orders.Index())
        {
            var g = Enumerable.Range(0, code.Partitions).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
            var before = model.Parameters.ToArray();
            ulong arrived = 0;
            bool closed = false;
            foreach (int worker in order)
            {
                arrived |= 1UL << worker;
                prefixes.Add(arrived);
                var header = new PushHeader(worker, step, 0, SampleCount: 1, LossSum: 0, CodeRow: worker);
                var reply = aggregator.Accept(slots[worker], header, CodedGradients.Encode(code, worker, g));
                if (closed)
                {
                    Assert.Equal(PushOutcomeKind.Late, reply.Kind);
                    continue;
                }
                closed = reply.ClosedStep;
                Assert.True(closed == oracle.Decodes(arrived),
                    $"{name} n = {n}, s = {s}: responders {Set(arrived)} decode by NumPy: {oracle.Decodes(arrived)}, the step closed: {closed}");
            }
            Assert.True(closed, $"{name} n = {n}, s = {s}: all {n} workers pushed step {step} and it did not close");

            double error = 0, norm = 0;
            for (int k = 0; k < Length; k++)
            {
                double truth = g.Sum(gj => (double)gj[k]), applied = (double)before[k] - model.Parameters[k];
                (error, norm) = (error + (applied - truth) * (applied - truth), norm + truth * truth);
            }
            Assert.True(Math.Sqrt(error / norm) <= CodeConditioning.Float32Tolerance, $"step {step}: relative error {Math.Sqrt(error / norm):G3}");
        }
        Assert.Equal(1 << n, prefixes.Count + 1);   // every non-empty responder set arrived as a prefix
    }


    private static string Set(ulong mask) => $"{{{string.Join(",", Enumerable.Range(0, 64).Where(i => (mask >> i & 1) != 0))}}}";
}
