using System.Text.Json;

namespace GpuPs.Cli.Commands;

/// <summary>The JSON files the CLI writes; their paths are checked before a run, so a long run never ends in a failed write.</summary>
public static class ResultFile
{
    /// <summary>
    /// Throws <see cref="Settings.SettingsException"/>, naming <paramref name="option"/>, when <paramref name="path"/> cannot
    /// be written (a directory, an unwritable folder). Leaves nothing behind: a file the check had to create is removed
    /// again, so a run refused later (bad data, a bad setting) leaves no empty result or model file.
    /// </summary>
    public static void CheckWritable(string path, string option = "--output")
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new Settings.SettingsException($"{option} {path} is a directory; give a file name");
        bool existed = File.Exists(full);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            using (File.Open(full, FileMode.Append, FileAccess.Write)) { }
            if (!existed) File.Delete(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Settings.SettingsException($"{option} {path} cannot be written: {e.Message}");
        }
    }

    public static void Write<T>(string path, T value)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(value, ResultJson.Options));
    }
}
