using System.Globalization;

namespace GpuPs.Core.Coding;

/// <summary>How an assignment names the speeds it was built from, in its construction text: "1:2:4" (4 significant digits).</summary>
internal static class SpeedList
{
    public static string Format(IReadOnlyList<double> speeds) =>
        string.Join(":", speeds.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)));
}
