using GpuPs.Cli.Settings;
using GpuPs.Core.Shards;

namespace GpuPs.Cli.Commands;

/// <summary>
/// Turns failures into one readable line on stderr and an exit code: 2 for bad input (settings, arguments, data files),
/// 1 for a run that failed (dead peer, refused call), 130 when interrupted.
/// </summary>
public static class CommandErrors
{
    public static async Task<int> RunAsync(Func<Task<int>> action, TextWriter? error = null)
    {
        error ??= Console.Error;
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("gpups: interrupted").ConfigureAwait(false);
            return 130;
        }
        catch (Exception e) when (e is SettingsException or ArgumentException or FormatException or FileNotFoundException or DirectoryNotFoundException)
        {
            // Keep the first line, without " (Parameter 'x')": the rest ("Actual value was …") is a detail of the code, not of the input.
            string message = System.Text.RegularExpressions.Regex.Replace(e.Message.Split('\n')[0].TrimEnd(), @" \(Parameter '[^']*'\)$", "");
            await error.WriteLineAsync($"gpups: error: {message}").ConfigureAwait(false);
            return 2;
        }
        catch (Exception e) when (e is ShardException or InvalidOperationException or IOException or TimeoutException)
        {
            // A transport's message may already start with its kind ("Unavailable: http://…"); name the kind once.
            string message = e is ShardException shard && !shard.Message.StartsWith($"{shard.Kind}:", StringComparison.Ordinal)
                ? $"{shard.Kind}: {shard.Message}" : e.Message;
            await error.WriteLineAsync($"gpups: failed: {message}").ConfigureAwait(false);
            return 1;
        }
    }
}
