using System.Text.RegularExpressions;
using GpuPs.Integration.Tests.Cli;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// The compose files in <c>deploy/compose</c> use only what the CLI has and agree with themselves: every command and flag
/// a service runs is in that command's <c>--help</c>, every <c>GPUPS_*</c> variable is an option of the commands that get
/// it, there are as many server and worker services as the job says, each server owns the shard its name says, the
/// workers list the servers' addresses in shard order, and each health check asks its own server's port. No container
/// engine needed (like the Kubernetes test).
/// </summary>
public partial class ComposeFileTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "deploy", "compose");

    private sealed record Service(string Name, string[] Command, string Block);

    [Theory]
    [InlineData("compose.yaml")]
    [InlineData("compose.gpu.yaml")]
    public async Task Every_command_and_flag_a_service_runs_is_in_the_cli(string file)
    {
        var services = Services(await File.ReadAllTextAsync(Path.Combine(Folder, file)));
        Assert.NotEmpty(services);
        var helps = new Dictionary<string, string>();
        foreach (var service in services)
        {
            string command = service.Command[0];
            if (!helps.TryGetValue(command, out string? help))
            {
                var run = await Gpups.RunAsync(command, "--help");
                Assert.True(run.ExitCode == 0, $"{file}: service {service.Name} runs '{command}', which is no gpups command");
                helps[command] = help = run.Stdout;
            }
            foreach (string flag in service.Command.Where(w => w.StartsWith("--", StringComparison.Ordinal)))
                Assert.True(help.Contains($"{flag} <", StringComparison.Ordinal) || help.Contains($"  {flag} ", StringComparison.Ordinal),
                    $"{file}: service {service.Name}: gpups {command} has no option {flag}");
        }
    }

    [Fact]
    public async Task The_job_variables_are_options_of_the_commands_that_get_them()
    {
        string compose = await File.ReadAllTextAsync(Path.Combine(Folder, "compose.yaml"));
        var job = JobVariables(compose);
        Assert.Contains("GPUPS_WORKERS", job.Keys);
        foreach (string command in new[] { "server", "evaluate" })
        {
            var help = (await Gpups.RunAsync(command, "--help")).Stdout;
            foreach (string name in job.Keys)
                Assert.True(help.Contains($"env {name}]", StringComparison.Ordinal), $"gpups {command} reads no variable {name}");
        }
        var worker = (await Gpups.RunAsync("worker", "--help")).Stdout;
        foreach (string name in EnvKey().Matches(Block(compose, "x-worker")).Select(m => m.Groups[1].Value))
            Assert.True(worker.Contains($"env {name}]", StringComparison.Ordinal), $"gpups worker reads no variable {name}");
    }

    [Fact]
    public async Task Servers_workers_ports_and_counts_agree()
    {
        string compose = await File.ReadAllTextAsync(Path.Combine(Folder, "compose.yaml"));
        var job = JobVariables(compose);
        var services = Services(compose);
        var servers = services.Where(s => s.Command[0] == "server").ToList();
        var workers = services.Where(s => s.Command[0] == "worker").ToList();
        Assert.Equal(int.Parse(job["GPUPS_SERVERS"]), servers.Count);
        Assert.Equal(int.Parse(job["GPUPS_WORKERS"]), workers.Count);

        var addresses = new List<string>();
        for (int i = 0; i < servers.Count; i++)
        {
            var server = servers.Single(s => Value(s.Command, "--shard-index") == $"{i}");
            Assert.Equal($"server-{i}", server.Name);
            string port = new Uri(Value(server.Command, "--urls")!).Port.ToString();
            Assert.Contains($"http://127.0.0.1:{port}\"", server.Block);   // its health check asks its own port
            Assert.Contains($"\"{port}:{port}\"", server.Block);
            addresses.Add($"http://{server.Name}:{port}");
        }
        Assert.All(workers, w => Assert.Equal(string.Join(',', addresses), Value(w.Command, "--server")));
        Assert.Equal(Enumerable.Range(0, workers.Count).Select(i => $"{i}"), workers.Select(w => Value(w.Command, "--worker-id")));

        // evaluate reads exactly the files the servers write.
        var outputs = servers.Select(s => Value(s.Command, "--output")).ToList();
        Assert.Equal(string.Join(',', outputs), Value(services.Single(s => s.Name == "evaluate").Command, "--shards"));
    }

    private static List<Service> Services(string compose)
    {
        string section = compose[compose.IndexOf("\nservices:", StringComparison.Ordinal)..];
        return ServiceName().Matches(section).Select(m =>
        {
            string block = Block(section, m.Groups[1].Value);
            var command = CommandList().Match(block);
            return command.Success ? new Service(m.Groups[1].Value, Quoted().Matches(command.Groups[1].Value).Select(q => q.Groups[1].Value).ToArray(), block) : null;
        }).OfType<Service>().ToList();
    }

    /// <summary>The lines of the top-level or service entry <paramref name="name"/>, up to the next entry at its indent.</summary>
    private static string Block(string text, string name)
    {
        var match = new Regex($@"^( *){Regex.Escape(name)}:.*$", RegexOptions.Multiline).Match(text);
        Assert.True(match.Success, $"no entry {name}");
        string indent = match.Groups[1].Value;
        var next = new Regex($@"^{indent}[A-Za-z0-9x][^\n]*:", RegexOptions.Multiline).Match(text, match.Index + match.Length);
        return text[match.Index..(next.Success ? next.Index : text.Length)];
    }

    private static Dictionary<string, string> JobVariables(string compose) =>
        EnvKey().Matches(Block(compose, "x-job")).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim('"'));

    private static string? Value(string[] command, string flag)
    {
        int i = Array.IndexOf(command, flag);
        return i >= 0 && i + 1 < command.Length ? command[i + 1] : null;
    }

    [GeneratedRegex(@"^  ([a-z0-9-]+):\s*$", RegexOptions.Multiline)]
    private static partial Regex ServiceName();

    [GeneratedRegex(@"command: \[(.*?)\]")]
    private static partial Regex CommandList();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^\s+(GPUPS_[A-Z_]+): *(\S+)", RegexOptions.Multiline)]
    private static partial Regex EnvKey();
}
