using System.Text.Json.Serialization;

namespace GpuPs.Core.Coding;

/// <summary>
/// Numerical health of a gradient code over responder sets of size n − s (see
/// <see cref="CodeConditioning.Analyze"/>). Serialises with System.Text.Json; infinities (an
/// undecodable set) are written as the string "Infinity".
/// </summary>
/// <param name="SubsetsTotal">C(n, n−s).</param>
/// <param name="SubsetsEvaluated">Responder sets analysed: all of them when <paramref name="Exhaustive"/>, else a seeded sample.</param>
/// <param name="UndecodableSubsets">Evaluated sets the decoder refused; 0 for a correct code.</param>
/// <param name="WorstConditionNumber">Largest effective condition number σ_max/σ_r of B_F (r = its numerical rank).</param>
/// <param name="MaxAbsWeight">Largest |a_i| of any decoding; float32 rounding in c_i is amplified by about this much.</param>
/// <param name="WorstResidual">Largest ‖B_Fᵀa − 1‖∞ among decodable sets, in float64.</param>
/// <param name="WorstFloat32RelativeError">Largest ‖Σa_i c_i − Σg_j‖₂ / ‖Σg_j‖₂ with float32 g_j and
/// float32 encoding c_i = Σ (float)B[i,j]·g_j, decoded in float64.</param>
/// <param name="GradientDimension">Length of the random partition gradients.</param>
/// <param name="Seed">Seed of the gradients and, when sampled, of the responder sets.</param>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record CodeConditioningReport(
    string Code,
    string Construction,
    int Workers,
    int Stragglers,
    int ResponderSetSize,
    long SubsetsTotal,
    int SubsetsEvaluated,
    bool Exhaustive,
    int UndecodableSubsets,
    double WorstConditionNumber,
    double MaxAbsWeight,
    double WorstResidual,
    double WorstFloat32RelativeError,
    int GradientDimension,
    ulong Seed);
