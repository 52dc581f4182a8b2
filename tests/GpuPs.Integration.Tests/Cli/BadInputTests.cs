namespace GpuPs.Integration.Tests.Cli;

/// <summary>Impossible settings and bad files end the CLI with exit code 2 and one readable line, before anything runs.</summary>
public class BadInputTests
{
    [Theory]
    [InlineData("workers must be at least 1", "train", "--workers", "0")]
    [InlineData("workers must be at least 1 (got -3)", "train", "--workers", "-3")]
    [InlineData("Did you mean --model?", "train", "--modle", "mlp")]
    [InlineData("Did you mean --log-level?", "codes", "--log-levle", "debug")]
    [InlineData("Did you mean train?", "trian")]
    [InlineData("Did you mean stragglers?", "bench", "straglers", "--quick")]
    [InlineData("--server: 'host0:5000' is not an http:// or https:// address", "status", "--insecure", "--server", "host0:5000")]
    [InlineData("--server: give one server's address (got 2)", "status", "--insecure", "--server", "http://127.0.0.1:1,http://127.0.0.1:2")]
    [InlineData("--server: 'host0:5000' is not an http:// or https:// address", "health", "--server", "host0:5000")]
    [InlineData("staleness must be >= 0", "train", "--mode", "ssp", "--staleness", "-1")]
    [InlineData("not found", "train", "--dataset", "csv:/nonexistent/data.csv")]
    [InlineData("Unknown data set", "train", "--dataset", "imagenet")]
    [InlineData("learning rate must be positive", "train", "--learning-rate", "0")]
    [InlineData("'http:/x' is not", "worker", "--server", "http:/x")]
    [InlineData("'bogus' is not one of bsp, asp, ssp, coded, multi-message, backup", "train", "--mode", "bogus")]
    [InlineData("fractional repetition needs (s+1) | n", "train", "--workers", "5", "--mode", "coded", "--stragglers", "1", "--code", "fractional")]
    [InlineData("stragglers must be in 0..3", "train", "--workers", "4", "--mode", "coded", "--stragglers", "4")]
    [InlineData("Bad straggler spec", "train", "--straggler-model", "bimodal:p=2")]
    [InlineData("worker 9 is not one of the 4 workers", "train", "--workers", "4", "--straggler-model", "persistent:workers=2+9,delay=0.5")]
    [InlineData("apply to the coded, multi-message and backup modes", "train", "--mode", "bsp", "--stragglers", "2")]
    [InlineData("gpups server needs the job's token: --token-file PATH or the environment variable GPUPS_TOKEN", "server", "--urls", "http://127.0.0.1:0")]
    [InlineData("gpups worker needs the job's token", "worker", "--server", "http://127.0.0.1:1")]
    [InlineData("max streams per connection must be at least 1 (got 0)", "server", "--insecure", "--max-streams-per-connection", "0")]
    [InlineData("push idle timeout must be positive", "server", "--insecure", "--push-idle-timeout-ms", "0")]
    [InlineData("--token-file /nonexistent/token:", "server", "--token-file", "/nonexistent/token")]
    [InlineData("--insecure runs without a job token, yet one is given (--token-file)", "worker", "--insecure", "--token-file", "/nonexistent/token")]
    [InlineData("--data-urls: 'foo://x' is not a tcp://HOST:PORT address", "server", "--insecure", "--urls", "http://127.0.0.1:0", "--data-urls", "foo://x")]
    [InlineData("--data-port 70000 is not a port (0: a free one, -1: no data plane)", "server", "--insecure", "--urls", "http://127.0.0.1:0", "--data-port", "70000")]
    [InlineData("'udp' is not one of auto, grpc, tcp", "worker", "--insecure", "--transport", "udp")]
    [InlineData("the asp mode takes no node-aggregated pushes", "train", "--mode", "asp", "--nodes", "2")]
    [InlineData("--nodes must be 1 to the number of workers (4)", "train", "--nodes", "5")]
    [InlineData("--topology FILE is required", "aggregator", "--insecure", "--node", "node-a")]
    [InlineData("--accelerator cuda+simd names 2 devices for 4 workers", "train", "--workers", "4", "--accelerator", "cuda+simd")]
    [InlineData("item 2 ('gpu') of 'simd+gpu' is not one of auto, cuda, opencl, cpu, simd", "train", "--workers", "2", "--accelerator", "simd+gpu")]
    [InlineData("--accelerator cuda+simd gives each worker id its device: give this worker's --worker-id too", "worker", "--insecure", "--accelerator", "cuda+simd")]
    [InlineData("--accelerator simd+simd names 2 devices for 3 workers", "bench", "hetero", "--factors", "4+2+1", "--accelerator", "simd+simd")]
    [InlineData("--accelerator simd+simd names 2 devices for 8 workers", "bench", "stragglers", "--quick", "--accelerator", "simd+simd")]
    public async Task Impossible_settings_exit_with_2_and_say_why(string message, params string[] args)
    {
        var run = await Gpups.RunAsync(args);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task A_malformed_topology_file_line_is_named_with_its_line_number_and_reason()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpups-topology-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, ["# nodes", "node-a workers=0-1", "node-b workers=1-3"]);
        try
        {
            var run = await Gpups.RunAsync("train", "--topology", path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("line 3: worker 1 is already on a node (line 2)", run.Stderr);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task A_malformed_data_file_line_is_named_with_its_line_number()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpups-bad-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, ["1,2,0", "3,4,1", "5,x,0", "7,8,1"]);
        try
        {
            var run = await Gpups.RunAsync("train", "--dataset", "csv:" + path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("line 3", run.Stderr);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task An_unreachable_server_is_named_with_its_status_kind_once()
    {
        var run = await Gpups.RunAsync("status", "--insecure", "--server", $"http://127.0.0.1:{Ports.Free()}");
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("gpups: failed: Unavailable: http://127.0.0.1:", run.Stderr);
        Assert.DoesNotContain("Unavailable: Unavailable", run.Stderr);
    }

    [Theory]
    [InlineData("{ \"offset\": 0, ")]
    [InlineData("{ \"shard\": 0, \"step\": 3 }")]
    [InlineData("{ \"offset\": 0, \"parameters\": [1, \"x\"] }")]
    [InlineData("{ \"offset\": 0.5, \"parameters\": [1] }")]
    public async Task A_shard_file_that_is_not_a_servers_JSON_slice_is_refused_by_name(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpups-shard-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text);
        try
        {
            var run = await Gpups.RunAsync("evaluate", "--shards", path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains($"{path}: not a shard file of gpups server --output", run.Stderr);
            Assert.DoesNotContain("   at ", run.Stderr);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("result.json", "--dataset", "csv:/nonexistent/data.csv")]
    [InlineData("result.safetensors")]
    public async Task A_refused_train_run_leaves_no_empty_result_or_model_file(string output, params string[] args)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"gpups-refused-{Guid.NewGuid():N}");
        try
        {
            var run = await Gpups.RunAsync(["train", "--output", Path.Combine(folder, output), .. args]);
            Assert.Equal(2, run.ExitCode);
            Assert.Empty(Directory.Exists(folder) ? Directory.GetFiles(folder) : []);
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public async Task Malformed_and_mistyped_config_files_are_refused()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpups-config-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{ \"workers\": 2, ");
            var run = await Gpups.RunAsync("train", "--config", path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("invalid JSON", run.Stderr);

            File.WriteAllText(path, "{ \"wrokers\": 2 }");
            run = await Gpups.RunAsync("train", "--config", path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("unknown setting(s) 'wrokers'", run.Stderr);

            File.WriteAllText(path, "{ \"workers\": \"many\" }");
            run = await Gpups.RunAsync("train", "--config", path);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("'many' is not a whole number", run.Stderr);
        }
        finally { File.Delete(path); }
    }
}
