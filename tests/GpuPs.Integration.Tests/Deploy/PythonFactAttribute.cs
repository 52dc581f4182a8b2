using System.Diagnostics;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>A test that runs <c>/usr/bin/python3</c> with NumPy: skipped, with the reason, where either is missing — never passed vacuously.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PythonFactAttribute : FactAttribute
{
    /// <summary>The interpreter the tests run.</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly string? Missing = Probe();

    public PythonFactAttribute() => Skip = Missing;

    private static string? Probe()
    {
        if (!File.Exists(Python)) return $"{Python} is not installed";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import numpy"]) { RedirectStandardError = true })!;
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{Python} has no numpy (apt-get install python3-numpy)";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"{Python} cannot run: {e.Message}"; }
    }
}
