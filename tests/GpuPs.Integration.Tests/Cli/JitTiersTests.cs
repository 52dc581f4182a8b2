namespace GpuPs.Integration.Tests.Cli;

/// <summary>
/// gpups runs without tiered compilation (its runtimeconfig): every method is compiled once, optimized, so no background
/// JIT recompiles a step's code while steps run — on a 0.214-CPU worker that re-JIT took 10-18 % of its quota through the
/// measured steps (docs/benchmarks.md, seventh session). The runtime's own JIT summary of a real gpups process says which
/// tier each method was compiled at.
/// </summary>
public class JitTiersTests
{
    [Fact]
    public async Task Gpups_compiles_every_method_fully_optimized_with_no_tier_to_recompile_later()
    {
        var summary = Path.Join(Path.GetTempPath(), $"gpups-jit-{Guid.NewGuid():N}.txt");
        try
        {
            var result = await Gpups.RunAsync(new Dictionary<string, string>
            {
                ["DOTNET_JitDisasmSummary"] = "1", ["DOTNET_JitStdOutFile"] = summary,
            }, "--help");

            Assert.Equal(0, result.ExitCode);
            // One line per compiled method: "N: JIT compiled Type:Method(...) [Tier, IL size=..., code size=...]".
            var tiers = File.ReadLines(summary).Where(l => l.Contains("JIT compiled", StringComparison.Ordinal))
                .Select(l => l[(l.LastIndexOf('[') + 1)..].Split(',')[0]).ToArray();
            Assert.True(tiers.Length > 100, $"only {tiers.Length} methods in the JIT summary");
            Assert.All(tiers, tier => Assert.StartsWith("FullOpts", tier, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(summary);
        }
    }
}
