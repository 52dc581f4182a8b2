using GpuPs.Kernels;

namespace GpuPs.Core.Models;

/// <summary>
/// A trained model as GpuPs exports it (<see cref="ModelFile"/>): its shape, its flat parameter vector (or one shard's
/// slice of it), the input standardisation it was trained with, the class names and the job that made it.
/// </summary>
/// <param name="Shape">Model kind and sizes.</param>
/// <param name="Parameters">The parameters <c>[Offset, Offset + Parameters.Length)</c> of the flat vector; the whole vector when <see cref="IsWhole"/>.</param>
/// <param name="Offset">Index of <c>Parameters[0]</c> in the flat vector (a shard's offset; 0 for a whole model).</param>
/// <param name="Step">The step the parameters are from.</param>
/// <param name="InputMean">Per-feature mean of the training rows: inputs are standardised as (x − mean) / std before the model.</param>
/// <param name="InputStd">Per-feature standard deviation of the training rows (1 for constant features).</param>
/// <param name="ClassNames">Name of each class index (the original label, or a header's class name).</param>
/// <param name="JobArguments">The job options that made the model, as <c>gpups</c> arguments (<c>--dataset digits --model softmax …</c>).</param>
/// <param name="Shard">Index of the shard the slice is from, and the number of shards (0 of 1 for a whole model).</param>
/// <param name="Shards">Number of shards of the job.</param>
public sealed record ExportedModel(
    ModelShape Shape, float[] Parameters, long Offset, long Step, float[] InputMean, float[] InputStd,
    IReadOnlyList<string> ClassNames, IReadOnlyList<string> JobArguments, int Shard = 0, int Shards = 1)
{
    /// <summary>True when <see cref="Parameters"/> is the model's whole flat vector.</summary>
    public bool IsWhole => Offset == 0 && Parameters.Length == Shape.ParameterCount;
}
