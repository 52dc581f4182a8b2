using GpuPs.Kernels;

namespace GpuPs.Kernels.Tests;

/// <summary>The optimizer update rules in double precision, element by element, straight from their definitions.</summary>
public sealed class ReferenceOptimizer(OptimizerSettings s, int length)
{
    private readonly double[] _velocity = new double[length];
    private readonly double[] _m = new double[length];
    private readonly double[] _v = new double[length];
    private int _t;

    public void Apply(double[] p, float[] gradient)
    {
        _t++;
        for (int k = 0; k < p.Length; k++)
        {
            double g = gradient[k] + (double)s.WeightDecay * p[k];
            switch (s.Kind)
            {
                case OptimizerKind.Sgd:
                    p[k] -= s.LearningRate * g;
                    break;
                case OptimizerKind.Momentum:
                    _velocity[k] = s.Momentum * _velocity[k] + g;
                    p[k] -= s.LearningRate * _velocity[k];
                    break;
                case OptimizerKind.Adam:
                    _m[k] = s.Beta1 * _m[k] + (1 - (double)s.Beta1) * g;
                    _v[k] = s.Beta2 * _v[k] + (1 - (double)s.Beta2) * g * g;
                    double mHat = _m[k] / (1 - Math.Pow(s.Beta1, _t));
                    double vHat = _v[k] / (1 - Math.Pow(s.Beta2, _t));
                    p[k] -= s.LearningRate * mHat / (Math.Sqrt(vHat) + s.Epsilon);
                    break;
            }
        }
    }
}
