using System.Globalization;
using GpuPs.Cli.Settings;

namespace GpuPs.Cli.Commands;

/// <summary>Reads a <c>--speeds 1,2,4</c> list: relative worker speeds, each a finite number &gt; 0.</summary>
internal static class SpeedListOption
{
    /// <summary>The speeds, or null for an empty list (equal speeds).</summary>
    /// <exception cref="SettingsException">An entry is not a finite number &gt; 0 (the message names it).</exception>
    public static double[]? Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return text.Split(',').Select((part, i) =>
            double.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) && v > 0
                ? v
                : throw new SettingsException($"--speeds: entry {i + 1} ('{part.Trim()}') is not a finite number > 0; give relative speeds such as 1,2,4")).ToArray();
    }
}
