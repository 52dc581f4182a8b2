using GpuPs.Core.Security;
using GpuPs.Core.Shards;
using GpuPs.Core.Coding;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog;
using GpuPs.Core.Modes;
using GpuPs.Core.Training;
using GpuPs.Tests.Shared;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// A coded shard behind real Kestrel on loopback decodes the exact gradient sum from coded pushes sent by gRPC clients,
/// whatever the responders and their order, and closes each step on exactly the first prefix of the arrival order that
/// decodes (by an independent rank test: 1 ∈ rowspan B_F, or NumPy's table of every responder set), never later and
/// never earlier, whatever its size. Orders include the adversarial ones (a smallest decodable set first, a largest
/// undecodable set first) and, for one code of each construction, orders whose prefixes are every responder set.
/// Duplicates are refused and pushes after the close are dropped.
/// </summary>
public class CodedDecodeLoopbackTests
{
    private const int Length = 1000;

    [Theory]
    [InlineData("cyclic", 7, 2)]      // n + s odd: cyclic-MDS construction, real coefficients
    [InlineData("cyclic", 6, 3)]      // cyclic-MDS with a decodable set of 2 < n − s
    [InlineData("cyclic", 9, 1)]      // n + s even: best seeded random construction
    [InlineData("cyclic", 12, 4)]     // n + s even: cyclic-MDS for s + 1
    [InlineData("fractional", 6, 2)]
    [InlineData("fractional", 8, 1)]  // one responder per group closes the step: 4 of 8
    public async Task Decoded_sum_equals_the_sum_of_partition_gradients_for_random_orders(string codeName, int n, int s)
    {
        var code = GradientCodeFactory.Create(codeName, n, s);
        var random = new Random(n * 100 + s);
        var orders = new[] { SmallestDecodableFirst(code), LargestUndecodableFirst(code) }
            .Concat(Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray()))
            .ToArray();
        await CloseStepsAsync(codeName, code, orders, prefix => Decodable(code, prefix), random);
    }

    /// <summary>
    /// The closing rule over gRPC against NumPy's table (<see cref="NumPyDecodability"/>) with arrival orders whose
    /// prefixes are all 2ⁿ responder sets (<see cref="ArrivalOrders"/>): one code of each construction a job can name.
    /// </summary>
    [Theory]
    [InlineData("cyclic", 6, 3, "")]                // cyclic-MDS, decodable sets of 2 < n − s
    [InlineData("cyclic", 7, 4, "")]                // cyclic-MDS
    [InlineData("cyclic", 8, 2, "")]                // n + s even: best seeded random construction
    [InlineData("fractional", 8, 1, "")]            // one responder per group: 4 of 8
    [InlineData("hetero", 7, 2, "1,1,1,1,1,1,1")]   // equal speeds, groups of 3, 2 and 2 workers
    public async Task Every_responder_set_closes_the_step_exactly_when_NumPy_decodes_it(string codeName, int n, int s, string speeds)
    {
        var oracle = NumPyDecodability.Of(codeName, n, s, speeds);
        var orders = ArrivalOrders.CoveringEverySubset(n);
        await CloseStepsAsync(codeName, oracle.Build(), orders,
            prefix => oracle.Decodes(prefix.Aggregate(0UL, (mask, worker) => mask | 1UL << worker)), new Random(n * 100 + s));
    }

    /// <summary>
    /// A coded shard of <paramref name="code"/> behind Kestrel and one gRPC client per worker; step t's pushes arrive in
    /// <paramref name="orders"/>[t] with fresh random partition gradients. The step must close on exactly the first
    /// prefix <paramref name="decodes"/> accepts, later pushes are Late (and counted), the first responder's second push
    /// is a Duplicate, and the parameters pulled after it are the exact sums of every step's partition gradients.
    /// </summary>
    private static async Task CloseStepsAsync(string codeName, IGradientCode code, IReadOnlyList<int[]> orders, Func<int[], bool> decodes, Random random)
    {
        int n = code.Workers;
        var job = new TrainingJob
        {
            Model = new ModelShape(Kernels.ModelKind.Logistic, Length - 1, 2), Mode = SyncModes.Of(SyncMode.Coded), Code = codeName,
            Stragglers = code.Stragglers, Workers = n, Steps = orders.Count, Seed = 1, Dataset = "synthetic", HeartbeatTimeoutMs = 60_000,
        };
        using var shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Length = Length },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[Length]), Accelerators.Create(AcceleratorChoice.Simd), Log.Logger);
        var auth = JobAuth.WithToken(JobToken.Generate());
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", auth, Log.Logger, CancellationToken.None);
        var clients = new List<GrpcShardClient>();
        for (int i = 0; i < n; i++)
        {
            var client = new GrpcShardClient(host.Address.ToString(), auth);
            clients.Add(client);
            await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = i }, CancellationToken.None);
        }

        var expected = new double[Length];
        int lateSent = 0;
        foreach (var (step, order) in orders.Index())
        {
            var g = Enumerable.Range(0, code.Partitions).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
            for (int k = 0; k < Length; k++) expected[k] -= g.Sum(gj => (double)gj[k]);
            int closesAt = Enumerable.Range(1, n).First(count => decodes(order[..count]));
            int responders = 0;
            bool closed = false;
            foreach (int worker in order)
            {
                var coded = CodedGradients.Encode(code, worker, g);
                var header = new PushHeader(worker, step, 0, SampleCount: 1, LossSum: 0, CodeRow: worker);
                if (closed)
                {
                    var late = await clients[worker].PushAsync(header, coded, CancellationToken.None);
                    Assert.Equal(PushOutcomeKind.Late, late.Kind);
                    lateSent++;
                    continue;
                }
                var reply = await clients[worker].PushAsync(header, coded, CancellationToken.None);
                responders++;
                if (responders == 1)
                {
                    var duplicate = await clients[worker].PushAsync(header, coded, CancellationToken.None);
                    Assert.Equal(PushOutcomeKind.Duplicate, duplicate.Kind);
                }
                closed = reply.ClosedStep;
                Assert.True(closed == (responders == closesAt),
                    $"{codeName} n = {n}, s = {code.Stragglers}, step {step}, order [{string.Join(",", order)}]: the first decodable prefix has {closesAt} responders, closed={closed} after {responders}");
            }
            Assert.True(closed);

            var parameters = new float[Length];
            var pulled = await clients[0].PullAsync(0, step + 1, parameters, CancellationToken.None);
            Assert.Equal(step + 1, pulled.Step);
            double error = 0, norm = 0;
            for (int k = 0; k < Length; k++)
            {
                error += Math.Pow(parameters[k] - expected[k], 2);
                norm += expected[k] * expected[k];
            }
            Assert.True(Math.Sqrt(error / norm) <= 1e-5, $"step {step}: relative error {Math.Sqrt(error / norm):G3}");
        }
        Assert.Equal(lateSent, shard.Status().PushesDroppedLate);
        foreach (var c in clients) await c.DisposeAsync();
    }

    /// <summary>1 ∈ rowspan(B_F) by singular values, independent of the decoder's QR: rank [B_F; 1ᵀ] = rank B_F.</summary>
    private static bool Decodable(IGradientCode code, IReadOnlyList<int> responders)
    {
        var rows = new double[responders.Count + 1, code.Partitions];
        for (int r = 0; r < responders.Count; r++)
        for (int j = 0; j < code.Partitions; j++)
            rows[r, j] = code[responders[r], j];
        for (int j = 0; j < code.Partitions; j++) rows[responders.Count, j] = 1;
        return Rank(rows, responders.Count + 1) == Rank(rows, responders.Count);
    }

    private static int Rank(double[,] rows, int count)
    {
        var top = new double[count, rows.GetLength(1)];
        for (int r = 0; r < count; r++)
        for (int j = 0; j < rows.GetLength(1); j++)
            top[r, j] = rows[r, j];
        var sigma = DenseMatrix.SingularValues(top);
        return sigma.Count(v => v > 1e-9 * sigma[0]);
    }

    private static IEnumerable<int[]> SubsetsBySize(int n, bool ascending) =>
        Enumerable.Range(1, (1 << n) - 1)
            .Select(m => Enumerable.Range(0, n).Where(i => (m >> i & 1) != 0).ToArray())
            .OrderBy(set => ascending ? set.Length : -set.Length);

    /// <summary>An order whose first responders are a smallest decodable set: the step must close on it.</summary>
    private static int[] SmallestDecodableFirst(IGradientCode code)
    {
        var first = SubsetsBySize(code.Workers, ascending: true).First(set => Decodable(code, set));
        return [.. first, .. Enumerable.Range(0, code.Workers).Except(first)];
    }

    /// <summary>An order whose first responders are a largest set that does not decode: the step must wait past it.</summary>
    private static int[] LargestUndecodableFirst(IGradientCode code)
    {
        var first = SubsetsBySize(code.Workers, ascending: false).First(set => !Decodable(code, set));
        return [.. first, .. Enumerable.Range(0, code.Workers).Except(first)];
    }

}
