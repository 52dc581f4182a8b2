using System.CommandLine;
using System.Globalization;
using GpuPs.Cli.Settings;
using GpuPs.Protocol;
using GpuPs.Worker.Transport;
using Spectre.Console;

namespace GpuPs.Cli.Commands;

/// <summary>
/// <c>gpups status --server URL</c>: one shard's state as a person reads it — the job, the step, the counters, and a table
/// of its workers (host, device, step, how long silent, live or evicted); <c>--watch</c> refreshes it every second.
/// </summary>
public static class StatusCommand
{
    /// <summary>The <c>status</c> command.</summary>
    public static Command Create(SettingSources sources)
    {
        var server = sources.Option<string?>("server", null, "the shard's address, e.g. http://host0:5000");
        var watch = sources.Option("watch", false, "refresh every second until Ctrl+C");
        var json = sources.Option("json", false, "print the shard's status once as JSON (protobuf JSON mapping of StatusReply), for scripts");
        var auth = new AuthOptions(sources);
        var command = new Command("status", "Show a shard's job, step, counters and workers (needs the job's token, like every call).");
        command.Options.Add(server);
        command.Options.Add(watch);
        command.Options.Add(json);
        auth.AddTo(command);
        command.SetAction((parse, ct) => CommandErrors.RunAsync(async () =>
        {
            string address = AddressList.ParseOne(parse.GetValue(server) ?? throw new SettingsException("--server is required: the shard's address, e.g. http://host0:5000"), "--server");
            await using var client = new GrpcShardClient(address, auth.Resolve(parse, "status"));
            if (parse.GetValue(json))
            {
                Console.WriteLine(Google.Protobuf.JsonFormatter.Default.Format(await client.StatusAsync(ct, TimeSpan.FromSeconds(10))));
                return 0;
            }
            do
            {
                var status = await client.StatusAsync(ct, TimeSpan.FromSeconds(10));
                if (parse.GetValue(watch)) AnsiConsole.Clear();
                AnsiConsole.Write(Render(address, status));
                if (parse.GetValue(watch)) await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            while (parse.GetValue(watch));
            return 0;
        }));
        return command;
    }

    private static Rows Render(string address, StatusReply s)
    {
        var job = s.Job;
        string mode = System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(job.Mode.ToString());
        var summary = new Grid().AddColumn().AddColumn()
            .AddRow("shard", Markup.Escape($"{s.Shard.Index} of {s.Shard.Count} at {address}, {s.Shard.Length} parameters"))
            .AddRow("job", Markup.Escape($"{mode}, {job.Workers} workers, {job.Steps} steps, {job.Dataset}"))
            .AddRow("step", Markup.Escape($"{s.Step}{(s.Finished ? " (finished)" : "")}, " +
                (double.IsNaN(s.MeanLoss) ? "no loss yet (no step closed)" : $"mean loss {s.MeanLoss.ToString("F4", CultureInfo.InvariantCulture)}")))
            .AddRow("pushes", Markup.Escape($"{s.PushesApplied} applied, {s.PushesRejected} refused ({s.PushesDroppedLate} late), {s.UpdatesSkipped} updates skipped"));
        if (s.Assignment is { } a)
            summary.AddRow("assignment", Markup.Escape($"version {a.Version} from step {a.FromStep}, moved {a.MovedFraction.ToString("P1", CultureInfo.InvariantCulture)} of the rows; " +
                $"shares {string.Join(" : ", a.Speeds.Select(v => (v / a.Speeds.Sum()).ToString("P0", CultureInfo.InvariantCulture)))}"));
        bool speeds = !string.IsNullOrEmpty(job.Assignment) && job.Assignment != "uniform";
        var workers = new Table().AddColumns("worker", "state", "step", "silent", "host", "device");
        if (speeds) workers.AddColumns("rows/s", "push+pull");
        foreach (var w in s.Workers)
        {
            string[] cells = [w.WorkerId.ToString(CultureInfo.InvariantCulture),
                !w.Registered ? "[grey]not joined[/]" : w.Live ? "[green]live[/]" : "[red]evicted[/]",
                w.Clock.ToString(CultureInfo.InvariantCulture), w.Registered ? $"{w.SilentMs} ms" : "",
                Markup.Escape(w.Host), Markup.Escape(w.Device)];
            workers.AddRow(speeds
                ? [.. cells, w.RowsPerSecond.ToString("F0", CultureInfo.InvariantCulture), $"{(w.ExchangeSeconds * 1000).ToString("F1", CultureInfo.InvariantCulture)} ms"]
                : cells);
        }
        return new Rows(summary, workers);
    }
}
