using System.Globalization;
using Serilog;

namespace GpuPs.Core.Checkpoints;

/// <summary>
/// One shard's checkpoints in a folder: <c>shard-{index}-step-{step}.safetensors</c>, the newest <see cref="Kept"/>
/// kept. <see cref="Latest"/> returns the newest that reads back intact and belongs to the job, skipping (and logging)
/// torn, corrupted or foreign files, so that a crash while writing costs at most one checkpoint interval.
/// </summary>
public sealed class CheckpointStore(string directory, int shard, ILogger log)
{
    /// <summary>Checkpoints kept per shard; older ones are deleted after a new one is written.</summary>
    public const int Kept = 3;

    /// <summary>The folder the checkpoints live in.</summary>
    public string Directory { get; } = directory;

    /// <summary>Writes <paramref name="checkpoint"/> atomically, then deletes all but the newest <see cref="Kept"/>.</summary>
    /// <returns>The file written.</returns>
    public string Save(ShardCheckpoint checkpoint)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string path = Path.Combine(Directory, $"shard-{shard}-step-{checkpoint.Step.ToString("D12", CultureInfo.InvariantCulture)}.safetensors");
        CheckpointFile.Write(path, checkpoint);
        foreach (var (old, _) in Files().Skip(Kept))
        {
            try { File.Delete(old); }
            catch (IOException e) { log.Warning("Could not delete old checkpoint {Path}: {Reason}", old, e.Message); }
        }
        return path;
    }

    /// <summary>The newest intact checkpoint of the job <paramref name="jobFingerprint"/>, or null when there is none.</summary>
    public ShardCheckpoint? Latest(string jobFingerprint)
    {
        foreach (var (path, _) in Files())
        {
            if (!CheckpointFile.TryRead(path, out var checkpoint, out string problem))
                log.Warning("Skipping checkpoint {Path}: {Reason}", path, problem);
            else if (checkpoint!.JobFingerprint != jobFingerprint)
                log.Warning("Skipping checkpoint {Path}: it belongs to another job ({Theirs}, this job is {Ours})", path, checkpoint.JobFingerprint, jobFingerprint);
            else if (checkpoint.Shard != shard)
                log.Warning("Skipping checkpoint {Path}: it is of shard {Theirs}, not {Ours}", path, checkpoint.Shard, shard);
            else
                return checkpoint;
        }
        return null;
    }

    /// <summary>This shard's checkpoint files, newest step first.</summary>
    private IEnumerable<(string Path, long Step)> Files()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        string prefix = $"shard-{shard}-step-";
        return System.IO.Directory.EnumerateFiles(Directory, $"{prefix}*.safetensors")
            .Select(path => (Path: path, Name: Path.GetFileNameWithoutExtension(path)))
            .Select(f => (f.Path, Step: long.TryParse(f.Name[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : -1))
            .Where(f => f.Step >= 0)
            .OrderByDescending(f => f.Step)
            .ToList();
    }
}
