using GpuPs.Core.Coding;

namespace GpuPs.Core.Tests.Coding;

public class DenseMatrixTests
{
    [Fact]
    public void SingularValuesOfAKnownMatrix()
    {
        // [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]], eigenvalues 45 and 5.
        var sigma = DenseMatrix.SingularValues(new double[,] { { 3, 0 }, { 4, 5 } });
        Assert.Equal(Math.Sqrt(45), sigma[0], 12);
        Assert.Equal(Math.Sqrt(5), sigma[1], 12);
        var wide = DenseMatrix.SingularValues(new double[,] { { 1, 0, 0 }, { 0, 0, 2 } });
        Assert.Equal([2.0, 1.0], wide);
    }

    [Fact]
    public void ConditionNumberIgnoresTheNullSpace()
    {
        var (cond, rank) = DenseMatrix.ConditionNumber(new double[,] { { 1, 1 }, { 1, 1 }, { 0, 2 } }, 1e-10);
        Assert.Equal(2, rank);
        Assert.True(cond > 1 && double.IsFinite(cond));
        var (singular, r1) = DenseMatrix.ConditionNumber(new double[,] { { 1, 2 }, { 2, 4 } }, 1e-10);
        Assert.Equal(1, r1);
        Assert.Equal(1, singular, 12);
    }

    [Fact]
    public void LeastSquaresSolvesOverdeterminedAndRankDeficientSystems()
    {
        // Line fit through (0,1), (1,3), (2,5) is exact: y = 1 + 2x.
        var fit = DenseMatrix.SolveLeastSquares(new double[,] { { 1, 0 }, { 1, 1 }, { 1, 2 } }, [1, 3, 5], 1e-10);
        Assert.Equal(2, fit.Rank);
        Assert.Equal(1, fit.Solution[0], 12);
        Assert.Equal(2, fit.Solution[1], 12);

        // Duplicate columns: the basic solution puts all weight on the first of them.
        var basic = DenseMatrix.SolveLeastSquares(new double[,] { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 0, 3 } }, [2, 2, 3], 1e-10);
        Assert.Equal(2, basic.Rank);
        Assert.Equal([2.0, 0.0, 1.0], basic.Solution.Select(v => Math.Round(v, 12)));

        // Inconsistent system: least-squares answer of x = 1, x = 3 is 2.
        var ls = DenseMatrix.SolveLeastSquares(new double[,] { { 1 }, { 1 } }, [1, 3], 1e-10);
        Assert.Equal(2, ls.Solution[0], 12);
    }
}
