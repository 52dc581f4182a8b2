namespace GpuPs.Cli.Settings;

/// <summary>A setting that cannot be used: bad value, malformed config file, unknown key. The CLI prints the message and exits with 2.</summary>
public sealed class SettingsException(string message) : Exception(message);
