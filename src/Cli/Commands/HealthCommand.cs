using System.CommandLine;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GpuPs.Cli.Settings;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups health --server URL</c>: asks a server's standard gRPC health service (<c>grpc.health.v1.Health/Check</c>, no
/// token needed) and exits 0 when it answers SERVING, 1 otherwise — the images' HEALTHCHECK and compose's healthcheck.
/// </summary>
public static class HealthCommand
{
    /// <summary>The <c>health</c> command.</summary>
    public static Command Create()
    {
        // Not a SettingSources option: GPUPS_SERVER is the worker's server list, which a health check must not pick up.
        var server = new Option<string>("--server") { Description = "the server's address", DefaultValueFactory = _ => "http://127.0.0.1:5000" };
        var timeout = new Option<int>("--timeout-ms") { Description = "give up after this long", DefaultValueFactory = _ => 3000 };
        var command = new Command("health", "Check a server's gRPC health service (no token needed): exit 0 when it is SERVING, 1 otherwise.");
        command.Options.Add(server);
        command.Options.Add(timeout);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            string address = AddressList.ParseOne(parse.GetValue(server)!, "--server");
            using var channel = GrpcChannel.ForAddress(address);
            try
            {
                var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(),
                    deadline: DateTime.UtcNow.AddMilliseconds(parse.GetValue(timeout)), cancellationToken: ct);
                Console.WriteLine($"{address}: {reply.Status}");
                return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
            }
            catch (Grpc.Core.RpcException e)
            {
                Console.WriteLine($"{address}: unreachable ({e.StatusCode}: {e.Status.Detail})");
                return 1;
            }
        }));
        return command;
    }
}
