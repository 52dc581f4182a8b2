using Grpc.Core;
using GpuPs.Core.Coding;
using GpuPs.Kernels;
using GpuPs.Protocol;
using GpuPs.Server;
using GpuPs.Worker.Transport;
using Serilog;

namespace GpuPs.Integration.Tests.Server;

/// <summary>
/// A coded shard behind real Kestrel on loopback decodes the exact gradient sum from coded pushes sent by gRPC clients,
/// whatever the responders and their order, refusing duplicates and dropping pushes that arrive after the step closed.
/// </summary>
public class CodedDecodeLoopbackTests
{
    private const int Length = 1000;

    [Theory]
    [InlineData("cyclic", 7, 2)]      // n + s odd: cyclic-MDS construction
    [InlineData("cyclic", 8, 2)]      // n + s even: best seeded random construction
    [InlineData("fractional", 6, 2)]
    public async Task Decoded_sum_equals_the_sum_of_partition_gradients_for_random_orders(string codeName, int n, int s)
    {
        var job = new JobSpec
        {
            Model = Protocol.ModelKind.Logistic, Features = Length - 1, Classes = 2, ParameterCount = Length,
            Mode = SyncMode.Coded, Code = codeName, Stragglers = s, Workers = n, Steps = 4, Seed = 1, Dataset = "synthetic",
            TestFraction = 0.2, HeartbeatTimeoutMs = 60_000, StepTimeoutMs = 5_000,
        };
        var code = GradientCodeFactory.Create(codeName, n, s);
        using var shard = new ParameterShard(new ShardOptions(job, new ShardInfo { Index = 0, Count = 1, Length = Length },
            new OptimizerSettings(OptimizerKind.Sgd, 1f), new float[Length]), Accelerators.Create(AcceleratorChoice.Simd), Log.Logger);
        await using var host = await GpuPsServerHost.StartAsync(shard, "http://127.0.0.1:0", Log.Logger, CancellationToken.None);
        var clients = new List<GrpcShardClient>();
        for (int i = 0; i < n; i++)
        {
            var client = new GrpcShardClient(host.Address.ToString());
            clients.Add(client);
            await client.RegisterAsync(new RegisterRequest { RequestedWorkerId = i }, CancellationToken.None);
        }

        var random = new Random(n * 100 + s);
        var expected = new double[Length];
        int lateSent = 0;
        for (int step = 0; step < job.Steps; step++)
        {
            var g = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
            for (int k = 0; k < Length; k++) expected[k] -= g.Sum(gj => (double)gj[k]);
            var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray();
            int responders = 0;
            bool closed = false;
            foreach (int worker in order)
            {
                var coded = Encode(code, worker, g);
                var header = new PushHeader(worker, step, 0, SampleCount: 1, LossSum: 0, CodeRow: worker);
                if (closed)
                {
                    var late = await Assert.ThrowsAsync<RpcException>(() => clients[worker].PushAsync(header, coded, CancellationToken.None));
                    Assert.Equal(StatusCode.FailedPrecondition, late.StatusCode);
                    lateSent++;
                    continue;
                }
                var reply = await clients[worker].PushAsync(header, coded, CancellationToken.None);
                responders++;
                if (responders == 1)
                {
                    var duplicate = await Assert.ThrowsAsync<RpcException>(() => clients[worker].PushAsync(header, coded, CancellationToken.None));
                    Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
                }
                closed = reply.Applied;
                Assert.True(closed || responders < n, "every responder set of n workers decodes");
            }
            Assert.True(responders >= n - s && responders <= n, $"step closed after {responders} responders");

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

    /// <summary>c_i = Σ_j B[i,j] g_j in float32, as a worker's kernel computes it.</summary>
    private static float[] Encode(IGradientCode code, int worker, float[][] g)
    {
        var c = new float[Length];
        foreach (int j in code.PartitionsOf(worker))
        {
            float b = (float)code[worker, j];
            for (int k = 0; k < Length; k++) c[k] += b * g[j][k];
        }
        return c;
    }
}
