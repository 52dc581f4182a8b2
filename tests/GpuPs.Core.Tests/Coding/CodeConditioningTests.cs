using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

/// <summary>
/// <see cref="CodeConditioning"/>'s report field by field, against what the decoder and an independent float32 check
/// (<see cref="Float32DecodeCheck"/>) say of the same code, and its refusals. Hand-made B's reach the cases no code
/// GpuPs builds has: an undecodable (n−s)-set, a code too large to check.
/// </summary>
public class CodeConditioningTests
{
    [Fact]
    public void ARepetitionCodeIsMeasuredOnceWithWeightOneOnTheFirstReplicaOfEachGroup()
    {
        var code = new FractionalRepetitionCode(6, 2);

        var report = CodeConditioning.Analyze(code, seed: 7);

        Assert.Equal(new CodeConditioningReport("fractional", code.Construction, 6, 2, 4, 15, 15,
            "repetition: every decodable set decodes to the same float32 sum, one measured", 0, 1, 1, 0,
            report.WorstFloat32RelativeError, RoundingProfile.Dimension, 7), report);
        var check = new Float32DecodeCheck(code, RoundingProfile.Dimension, seed: 7);
        Assert.InRange(report.WorstFloat32RelativeError / check.Error([0, 3])!.Value, 0.8, 1.25);
    }

    [Fact]
    public void AnMdsCodeIsCheckedOverEveryMinimalSetWithTheDecodersWeights()
    {
        var code = CyclicRepetitionCode.Construct(5, 2);

        var report = CodeConditioning.Analyze(code, seed: 7);

        Assert.Equal(("cyclic", code.Construction, 5, 2, 3, 10L, 10L, 0), (report.Code, report.Construction, report.Workers,
            report.Stragglers, report.ResponderSetSize, report.SubsetsTotal, report.SubsetsEvaluated, report.UndecodableSubsets));
        Assert.Equal("exhaustive over every (n−s)-set; each has independent rows, so smaller decodable sets are covered", report.Method);
        var sets = ResponderSubsets.All(5, 3).Select(CodeCatalog.Workers).ToArray();
        Assert.Equal(sets.Max(set => code.Decode(set).Weights.Max(Math.Abs)), report.MaxAbsWeight, 9);
        Assert.InRange(report.WorstResidual, 0, GradientDecoder.ResidualTolerance);
        var conditions = sets.Select(set => DenseMatrix.ConditionNumber(CodeCatalog.Rows(code, set), GradientDecoder.RankTolerance).Condition).ToArray();
        Assert.Contains(conditions, c => Math.Abs(c - report.ConditionAtWorstSet) < 1e-9);
        var check = new Float32DecodeCheck(code, RoundingProfile.Dimension, seed: 7);
        Assert.InRange(report.WorstFloat32RelativeError / sets.Max(set => check.Error(set)!.Value), 0.8, 1.25);
        Assert.Equal((RoundingProfile.Dimension, 7UL), (report.GradientDimension, report.Seed));
        Assert.Equal(report.WorstFloat32RelativeError,
            CodeConditioning.WorstFloat32Error(CodeConditioning.Matrix(code), 2, 7, double.PositiveInfinity));
    }

    /// <summary>Rows 1 and 2 are both multiples of (0, 1, 1): without worker 0 partition 0 is lost.</summary>
    [Fact]
    public void AMinimalSetThatDoesNotDecodeMakesTheCodeUnusable()
    {
        var b = new double[,] { { 2, 0, 0 }, { 0, 1, 1 }, { 0, 2, 2 } };
        var code = new HandMadeCode(b, stragglers: 1);

        var report = CodeConditioning.Analyze(code, seed: 7);

        Assert.Equal(1, report.UndecodableSubsets);
        Assert.Equal(double.PositiveInfinity, report.ConditionAtWorstSet);
        Assert.Equal(double.PositiveInfinity, report.WorstFloat32RelativeError);
        Assert.Equal(double.PositiveInfinity, CodeConditioning.WorstFloat32Error(b, 1, 7, abandonAbove: 0));
    }

    [Fact]
    public void AWorstErrorAbandonedEarlyIsALowerBoundAboveTheThreshold()
    {
        var b = CodeConditioning.Matrix(CyclicRepetitionCode.Construct(9, 2));
        double worst = CodeConditioning.WorstFloat32Error(b, 2, 7, double.PositiveInfinity)!.Value;

        double abandoned = CodeConditioning.WorstFloat32Error(b, 2, 7, abandonAbove: worst / 10)!.Value;

        Assert.InRange(abandoned, worst / 10, worst);
        Assert.True(abandoned < worst, "the first set above a tenth of the worst is not the worst one");
    }

    [Fact]
    public void NoWorstErrorIsGivenForARankOtherThanNMinusSOrTooManySets()
    {
        var b = CodeConditioning.Matrix(CyclicRepetitionCode.Construct(5, 2));
        Assert.Null(CodeConditioning.WorstFloat32Error(b, 1, 7, double.PositiveInfinity));
        Assert.Null(CodeConditioning.WorstFloat32Error(b, 3, 7, double.PositiveInfinity));
        var wide = new double[64, 64];
        for (int i = 0; i < 64; i++) wide[i, i] = 2;
        Assert.Null(CodeConditioning.WorstFloat32Error(wide, 5, 7, double.PositiveInfinity));
    }

    [Fact]
    public void ACodeNeitherOfRankNMinusSNorSmallEnoughToDecodeSetBySetIsRefused()
    {
        var b = new double[32, 32];
        for (int i = 0; i < 32; i++) b[i, i] = 2;

        var error = Assert.Throws<ArgumentException>(() => CodeConditioning.Analyze(new HandMadeCode(b, stragglers: 5), seed: 7));

        Assert.StartsWith("hand-made code n = 32, s = 5 cannot be checked exhaustively: its rows do not span an 27-dimensional " +
            $"space and C(32, 5) > {CodeConditioning.DecoderScanLimit:N0}, or C(32, 5) > {CodeConditioning.ExhaustiveLimit:N0}.", error.Message);
        Assert.Throws<ArgumentNullException>(() => CodeConditioning.Analyze(null!, seed: 7));
    }

    /// <summary>
    /// The heterogeneous code's rows span fewer than n − s dimensions: every (n−s)-set is decoded by the decoder itself,
    /// and the report's weights and error are the worst over those decodes, recomputed here set by set.
    /// </summary>
    [Fact]
    public void ARankDeficientCodeIsCheckedSetBySetWithTheDecodersOwnWeights()
    {
        var code = new HeterogeneousRepetitionCode([1.0, 1.0, 2.0, 2.0, 4.0], 1);

        var report = CodeConditioning.Analyze(code, seed: 7);

        Assert.Equal("exhaustive over every (n−s)-set, each decoded by the decoder itself; smaller sets are checked at decode time", report.Method);
        Assert.Equal((5L, 5L, 0), (report.SubsetsTotal, report.SubsetsEvaluated, report.UndecodableSubsets));
        var profile = new RoundingProfile(CodeConditioning.Matrix(code), seed: 7);
        var decodes = ResponderSubsets.All(5, 4).Select(CodeCatalog.Workers).Select(set =>
        {
            var decode = new GradientDecoder(code).Decode(set);
            var weights = new double[5];
            for (int r = 0; r < set.Length; r++) weights[set[r]] = decode.Weights[r];
            return (Weights: weights, decode.Residual);
        }).ToArray();
        Assert.Equal(decodes.Max(d => d.Weights.Max(Math.Abs)), report.MaxAbsWeight);
        Assert.Equal(decodes.Max(d => d.Residual), report.WorstResidual);
        Assert.Equal(decodes.Max(d => profile.RelativeError(d.Weights)), report.WorstFloat32RelativeError);
    }

    [Fact]
    public void TheIdentityIsMeasuredOnEveryWorkerWithNothingLeftOver()
    {
        var report = CodeConditioning.Analyze(new UncodedAssignment(3), seed: 7);

        Assert.Equal((0, 1.0, 1.0, 0.0), (report.UndecodableSubsets, report.ConditionAtWorstSet, report.MaxAbsWeight, report.WorstResidual));
        Assert.Equal(report.WorstFloat32RelativeError, new RoundingProfile(CodeConditioning.Matrix(new UncodedAssignment(3)), seed: 7).RelativeError([1.0, 1.0, 1.0]));
    }

    [Fact]
    public void RepetitionMeansZeroOneCoefficientsWithRowsIdenticalOrDisjoint()
    {
        Assert.True(CodeConditioning.IsRepetition(new double[,] { { 1, 0 }, { 0, 1 } }));
        Assert.True(CodeConditioning.IsRepetition(new double[,] { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 0, 1 } }));
        Assert.False(CodeConditioning.IsRepetition(new double[,] { { 1, 1, 0 }, { 0, 1, 1 }, { 1, 0, 1 } }));
        Assert.False(CodeConditioning.IsRepetition(new double[,] { { 1, 1, 0 }, { 1, 1, 1 } }));   // overlapping in two partitions
        Assert.False(CodeConditioning.IsRepetition(new double[,] { { 2, 0 }, { 0, 1 } }));
        Assert.False(CodeConditioning.IsRepetition(new double[,] { { 1, 0 }, { 0, -1 } }));
    }
}
