using System.Text.Json;

namespace GpuPs.Core.Coding;

/// <summary>
/// JSON description of a code for <c>gpups codes --workers n --stragglers s [--code …] --json</c>:
/// the assignment, B, and its conditioning report.
/// </summary>
/// <param name="Name">The code's family (<see cref="IGradientCode.Name"/>).</param>
/// <param name="Construction">How B was built (<see cref="IGradientCode.Construction"/>).</param>
/// <param name="Workers">n, the number of workers (rows of B).</param>
/// <param name="Stragglers">s, the number of stragglers tolerated.</param>
/// <param name="Partitions">k, the number of data partitions (columns of B).</param>
/// <param name="MinResponders">n − s: every responder set of this size decodes.</param>
/// <param name="Assignment">Assignment[i] = partitions held by worker i, ascending.</param>
/// <param name="B">B[i][j], n rows of k coefficients.</param>
/// <param name="PartitionWeights">Relative sizes of the k partitions (<see cref="IGradientCode.PartitionWeights"/>).</param>
/// <param name="Conditioning">The code's numerical health (<see cref="CodeConditioning.Analyze"/>).</param>
public sealed record CodeDescription(
    string Name,
    string Construction,
    int Workers,
    int Stragglers,
    int Partitions,
    int MinResponders,
    IReadOnlyList<IReadOnlyList<int>> Assignment,
    double[][] B,
    IReadOnlyList<double> PartitionWeights,
    CodeConditioningReport Conditioning)
{
    // snake_case like every JSON document the CLI writes (the train result file); Web defaults write ±Infinity as strings.
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Snapshot of <paramref name="code"/> with its <paramref name="conditioning"/> report.</summary>
    public static CodeDescription From(IGradientCode code, CodeConditioningReport conditioning)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(conditioning);
        var b = Enumerable.Range(0, code.Workers)
            .Select(i => Enumerable.Range(0, code.Partitions).Select(j => code[i, j]).ToArray())
            .ToArray();
        var assignment = Enumerable.Range(0, code.Workers).Select(code.PartitionsOf).ToArray();
        return new CodeDescription(code.Name, code.Construction, code.Workers, code.Stragglers, code.Partitions,
            code.MinResponders, assignment, b, code.PartitionWeights, conditioning);
    }

    /// <summary>Indented snake_case JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);
}
