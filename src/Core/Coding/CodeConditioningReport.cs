using System.Text.Json.Serialization;

namespace GpuPs.Core.Coding;

/// <summary>
/// Numerical health of a gradient code over every responder set a step can close on (see
/// <see cref="CodeConditioning.Analyze"/>). Serialises with System.Text.Json; infinities (an
/// undecodable set) are written as the string "Infinity".
/// </summary>
/// <param name="Code">The code's family (<see cref="IGradientCode.Name"/>).</param>
/// <param name="Construction">How B was built (<see cref="IGradientCode.Construction"/>).</param>
/// <param name="Workers">n, the number of workers.</param>
/// <param name="Stragglers">s, the number of stragglers tolerated.</param>
/// <param name="ResponderSetSize">n − s, the size of the responder sets analysed.</param>
/// <param name="SubsetsTotal">C(n, n−s).</param>
/// <param name="SubsetsEvaluated">Responder sets the figures cover: all of them (no code is built that cannot be checked exhaustively).</param>
/// <param name="Method">How every set is covered: one by one, or by the repetition argument.</param>
/// <param name="UndecodableSubsets">(n−s)-sets that do not decode; 0 for every code GpuPs builds.</param>
/// <param name="ConditionAtWorstSet">Effective condition number σ_max/σ_r of B_F at the set with the worst float32 error.</param>
/// <param name="MaxAbsWeight">Largest |a_i| of any decoding; float32 rounding in c_i is amplified by about this much.</param>
/// <param name="WorstResidual">Largest ‖B_Fᵀa − 1‖∞ among the sets, in float64.</param>
/// <param name="WorstFloat32RelativeError">Largest ‖Σa_i c_i − Σg_j‖₂ / ‖Σg_j‖₂ with N(0,1) float32 g_j, float32
/// encoding c_i = Σ (float)B[i,j]·g_j and float64 decoding; at most <see cref="CodeConditioning.Float32Tolerance"/>.</param>
/// <param name="GradientDimension">Length of the random partition gradients.</param>
/// <param name="Seed">Seed of the gradients.</param>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record CodeConditioningReport(
    string Code,
    string Construction,
    int Workers,
    int Stragglers,
    int ResponderSetSize,
    long SubsetsTotal,
    long SubsetsEvaluated,
    string Method,
    int UndecodableSubsets,
    double ConditionAtWorstSet,
    double MaxAbsWeight,
    double WorstResidual,
    double WorstFloat32RelativeError,
    int GradientDimension,
    ulong Seed);
