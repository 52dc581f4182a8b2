namespace GpuPs.Core.Coding;

/// <summary>
/// Outcome of decoding one responder set: either weights a with ‖B_Fᵀa − 1‖∞ = <see cref="Residual"/>
/// ≤ <see cref="GradientDecoder.ResidualTolerance"/>, or not decodable with a <see cref="Reason"/>.
/// </summary>
/// <param name="IsDecodable">True when <see cref="Weights"/> reproduce the all-ones combination.</param>
/// <param name="Weights">a_i aligned with the responder list (empty when not decodable); a weight of
/// exactly 0 means that responder's vector need not be read.</param>
/// <param name="Residual">‖B_Fᵀa − 1‖∞ of the least-squares solution in float64
/// (+∞ when the set was refused before solving).</param>
/// <param name="Rank">Numerical rank of B_F (0 when refused before solving).</param>
/// <param name="PredictedFloat32Error">Relative float32 error of this decode predicted by the code's
/// <see cref="RoundingProfile"/> (+∞ when no weights were found).</param>
/// <param name="Reason">Why the set is not decodable; null when it is.</param>
public sealed record DecodeResult(bool IsDecodable, double[] Weights, double Residual, int Rank, double PredictedFloat32Error, string? Reason);
