using GpuPs.Cli.Settings;
using GpuPs.Core.Data;
using GpuPs.Core.Models;
using GpuPs.Kernels;

namespace GpuPs.Cli.Cluster;

/// <summary>The CLI's <see cref="ExportedModel"/>s: parameters of a job plus the standardisation, class names and job options it was trained with.</summary>
public static class ModelExports
{
    /// <summary>The model (or one shard's slice, at <paramref name="offset"/>) of the job <paramref name="settings"/> define, trained on <paramref name="data"/>.</summary>
    public static ExportedModel Of(TrainSettings settings, ModelShape shape, PreparedData data, float[] parameters, long offset, long step, int shard = 0, int shards = 1) =>
        new(shape, parameters, offset, step, [.. data.Scaler.Mean], [.. data.Scaler.Std], data.Train.ClassNames, [.. JobOptions.ToArguments(settings)], shard, shards);

    /// <summary>True when <paramref name="path"/> names a safetensors file (the format is chosen by the extension).</summary>
    public static bool IsSafetensors(string path) => path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
}
