using GpuPs.Cli.Cluster;
using GpuPs.Core.Security;
using GpuPs.Tests.Shared;
using Serilog;

namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// Issue 11, TLS on the real programs: a <c>gpups server</c> on an https:// address with mutual TLS and a
/// <c>gpups worker</c> with its client certificate train a job to the end; <c>gpups status</c> without a client
/// certificate is refused; TLS options that contradict the address are refused before anything starts. Issue 12: the
/// same job with tensors over the server's TLS data plane and over gRPC with TLS ends with the same model.
/// </summary>
public sealed class TlsDeploymentTests : IDisposable
{
    private static readonly string[] Job = ["--dataset", "synthetic:rows=200,features=4,classes=2", "--workers", "1", "--steps", "20", "--batch-size", "0"];
    private readonly TestCertificates _ca = new();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task A_job_runs_to_the_end_over_mutual_tls_and_a_client_without_a_certificate_is_refused()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var ca = _ca.WriteAuthorityPem();
        using var serverCertificate = _ca.Server();
        using var workerCertificate = _ca.Client();
        var (serverCert, serverKey) = _ca.WritePem(serverCertificate, "server");
        var (workerCert, workerKey) = _ca.WritePem(workerCertificate, "worker");
        await using var server = ChildProcess.Start("server", ["server", "--urls", "https://127.0.0.1:0", .. Job, "--keep-serving",
            "--tls-cert", serverCert, "--tls-key", serverKey, "--tls-ca", ca], token, Log.Logger);
        var address = await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), guard.Token);

        await using var worker = ChildProcess.Start("worker", ["worker", "--server", address, "--accelerator", "simd",
            "--tls-cert", workerCert, "--tls-key", workerKey, "--tls-ca", ca], token, Log.Logger);
        Assert.Equal(0, await worker.WaitForExitAsync(guard.Token));

        var environment = new Dictionary<string, string> { ["GPUPS_TOKEN"] = token.Value };
        var status = await Gpups.RunAsync(environment, ["status", "--server", address, "--tls-cert", workerCert, "--tls-key", workerKey, "--tls-ca", ca]);
        Assert.True(status.ExitCode == 0, $"exit {status.ExitCode}\n{status.Stdout}\n{status.Stderr}");
        Assert.Contains("20 (finished)", status.Stdout);
        var anonymous = await Gpups.RunAsync(environment, ["status", "--server", address, "--tls-ca", ca]);
        Assert.Equal(1, anonymous.ExitCode);
        // The handshake fails (TLS 1.2) or the connection is closed right after it (TLS 1.3): either way, no call.
        Assert.Contains("Unavailable", anonymous.Stderr);
    }

    [Fact]
    public async Task The_same_job_over_the_tls_data_plane_and_over_grpc_with_tls_ends_with_the_same_model()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var token = JobToken.Generate();
        var ca = _ca.WriteAuthorityPem();
        using var serverCertificate = _ca.Server();
        var (serverCert, serverKey) = _ca.WritePem(serverCertificate, "server");

        // Both runs at once; --transport tcp fails at registration unless the https server offers its (TLS) data plane.
        var models = await Task.WhenAll(new[] { "tcp", "grpc" }.Select(async transport =>
        {
            var output = Path.Combine(_ca.Directory, $"model-{transport}.json");
            await using var server = ChildProcess.Start($"server ({transport})", ["server", "--urls", "https://127.0.0.1:0", .. Job, "--linger-ms", "1000",
                "--output", output, "--tls-cert", serverCert, "--tls-key", serverKey], token, Log.Logger);
            var address = await server.ReadListeningAddressAsync(TimeSpan.FromSeconds(60), guard.Token);
            await using var worker = ChildProcess.Start($"worker ({transport})", ["worker", "--server", address, "--accelerator", "simd",
                "--transport", transport, "--tls-ca", ca], token, Log.Logger);
            await worker.WaitForSuccessAsync(guard.Token);
            await server.WaitForSuccessAsync(guard.Token);
            using var model = System.Text.Json.JsonDocument.Parse(File.ReadAllText(output));
            return (Step: model.RootElement.GetProperty("step").GetInt64(),
                Parameters: model.RootElement.GetProperty("parameters").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        }));

        Assert.Equal(20, models[0].Step);
        Assert.Equal(models[1].Step, models[0].Step);
        Assert.Equal(models[1].Parameters, models[0].Parameters);   // one worker, full batch: bit for bit
    }

    [Fact]
    public async Task Tls_options_that_do_not_fit_the_address_or_each_other_exit_2_naming_the_problem()
    {
        using var certificate = _ca.Server();
        var (cert, key) = _ca.WritePem(certificate, "server");
        var environment = new Dictionary<string, string> { ["GPUPS_TOKEN"] = JobToken.Generate().Value };

        var cleartext = await Gpups.RunAsync(environment, ["server", "--urls", "http://127.0.0.1:0", .. Job, "--tls-cert", cert, "--tls-key", key]);
        var noCertificate = await Gpups.RunAsync(environment, ["server", "--urls", "https://127.0.0.1:0", .. Job]);
        var noKey = await Gpups.RunAsync(environment, ["worker", "--server", "https://127.0.0.1:1", "--tls-cert", cert]);

        Assert.Equal((2, 2, 2), (cleartext.ExitCode, noCertificate.ExitCode, noKey.ExitCode));
        Assert.Contains("is not an https:// address", cleartext.Stderr);
        Assert.Contains("needs a certificate and its key (--tls-cert, --tls-key)", noCertificate.Stderr);
        Assert.Contains("needs its private key (--tls-key)", noKey.Stderr);
    }
}
