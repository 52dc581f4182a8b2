using GpuPs.Kernels;

namespace GpuPs.Core.Models;

/// <summary>
/// One named tensor of a model's flat parameter vector: <c>Values[Offset .. Offset + Length)</c> read row-major as
/// <see cref="Shape"/>. Names and shapes follow PyTorch's <c>nn.Linear</c> (<c>weight</c> is [out, in]), so an exported
/// model loads into a matching module with <c>load_state_dict</c>.
/// </summary>
/// <param name="Name">Tensor name: <c>weight</c>, <c>bias</c>, <c>hidden.weight</c>, <c>hidden.bias</c>, <c>output.weight</c>, <c>output.bias</c>.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Offset">Index of its first value in the flat vector.</param>
/// <param name="Length">Number of values (the product of <see cref="Shape"/>).</param>
public sealed record ModelLayer(string Name, int[] Shape, int Offset, int Length)
{
    /// <summary>
    /// The layers of <paramref name="shape"/> in the order the kernels lay them out (<see cref="ModelKind"/>):
    /// logistic: <c>weight</c> [1, features], <c>bias</c> [1]; softmax: <c>weight</c> [classes, features], <c>bias</c> [classes];
    /// MLP: <c>hidden.weight</c> [hidden, features], <c>hidden.bias</c> [hidden], <c>output.weight</c> [classes, hidden], <c>output.bias</c> [classes].
    /// The lengths add up to <see cref="ModelShape.ParameterCount"/>.
    /// </summary>
    public static IReadOnlyList<ModelLayer> Of(ModelShape shape)
    {
        var dims = shape.Kind switch
        {
            ModelKind.Logistic => new (string, int[])[] { ("weight", [1, shape.Features]), ("bias", [1]) },
            ModelKind.Softmax => [("weight", [shape.Classes, shape.Features]), ("bias", [shape.Classes])],
            ModelKind.Mlp => [("hidden.weight", [shape.Hidden, shape.Features]), ("hidden.bias", [shape.Hidden]),
                              ("output.weight", [shape.Classes, shape.Hidden]), ("output.bias", [shape.Classes])],
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "unknown model kind"),
        };
        var layers = new List<ModelLayer>(dims.Length);
        int offset = 0;
        foreach (var (name, dimensions) in dims)
        {
            int length = dimensions.Aggregate(1, (a, d) => a * d);
            layers.Add(new ModelLayer(name, dimensions, offset, length));
            offset += length;
        }
        return layers;
    }
}
