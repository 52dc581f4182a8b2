using System.Text.RegularExpressions;
using GpuPs.Integration.Tests.Cli;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// The Kubernetes manifests in <c>deploy/kubernetes</c> use only what the CLI has: every flag a container passes and every
/// <c>GPUPS_*</c> variable it is given (the job ConfigMap included) is an option of the command that container runs, as
/// its <c>--help</c> lists it; the shard and worker counts agree across the files. No cluster needed.
/// </summary>
public partial class KubernetesManifestTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "deploy", "kubernetes");

    [Theory]
    [InlineData("server.yaml", "server")]
    [InlineData("worker.yaml", "worker")]
    public async Task Every_flag_and_variable_a_container_uses_is_an_option_of_its_command(string file, string command)
    {
        string manifest = await File.ReadAllTextAsync(Path.Combine(Folder, file));
        string config = await File.ReadAllTextAsync(Path.Combine(Folder, "job-config.yaml"));
        var help = await Gpups.RunAsync(command, "--help");
        Assert.Equal(0, help.ExitCode);

        var args = ArgsList().Match(manifest);
        Assert.True(args.Success, $"{file} has no args list");
        var words = Quoted().Matches(args.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(command, words[0]);
        foreach (string flag in words.Where(w => w.StartsWith("--", StringComparison.Ordinal)))
            Assert.True(help.Stdout.Contains($"{flag} <", StringComparison.Ordinal) || help.Stdout.Contains($"  {flag} ", StringComparison.Ordinal),
                $"{file}: gpups {command} has no option {flag}");

        var variables = EnvName().Matches(manifest).Select(m => m.Groups[1].Value)
            .Concat(ConfigKey().Matches(config).Select(m => m.Groups[1].Value)).Distinct();
        foreach (string name in variables)
            Assert.True(help.Stdout.Contains($"env {name}]", StringComparison.Ordinal) || help.Stdout.Contains($"set {name})", StringComparison.Ordinal)
                        || (command == "worker" && IsJobOnly(name)),
                $"{file}: gpups {command} reads no variable {name}");
    }

    [Fact]
    public async Task Shard_and_worker_counts_agree_across_the_manifests()
    {
        string config = await File.ReadAllTextAsync(Path.Combine(Folder, "job-config.yaml"));
        string server = await File.ReadAllTextAsync(Path.Combine(Folder, "server.yaml"));
        string worker = await File.ReadAllTextAsync(Path.Combine(Folder, "worker.yaml"));
        int servers = int.Parse(Regex.Match(config, "GPUPS_SERVERS: \"(\\d+)\"").Groups[1].Value);
        int workers = int.Parse(Regex.Match(config, "GPUPS_WORKERS: \"(\\d+)\"").Groups[1].Value);

        Assert.Equal(servers, int.Parse(Regex.Match(server, @"replicas: (\d+)").Groups[1].Value));
        Assert.Equal(workers, int.Parse(Regex.Match(worker, @"completions: (\d+)").Groups[1].Value));
        Assert.Equal(workers, int.Parse(Regex.Match(worker, @"parallelism: (\d+)").Groups[1].Value));
        // The worker lists every shard, in shard order.
        var shards = Regex.Matches(worker, @"http://gpups-server-(\d+)\.gpups-server:5000").Select(m => int.Parse(m.Groups[1].Value));
        Assert.Equal(Enumerable.Range(0, servers), shards);
    }

    /// <summary>Job variables of the shared ConfigMap that only servers read (workers get the job from the servers).</summary>
    private static bool IsJobOnly(string name) => name is not ("GPUPS_TOKEN" or "GPUPS_LOG_FORMAT" or "GPUPS_LOG_LEVEL");

    [GeneratedRegex(@"args: \[(.*?)\]", RegexOptions.Singleline)]
    private static partial Regex ArgsList();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"- name: (GPUPS_[A-Z_]+)")]
    private static partial Regex EnvName();

    [GeneratedRegex(@"^\s+(GPUPS_[A-Z_]+):", RegexOptions.Multiline)]
    private static partial Regex ConfigKey();
}
