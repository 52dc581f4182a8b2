using System.IO.Compression;
using System.Text;

namespace GpuPs.Core.Tests.Data;

/// <summary>A scratch directory for data files, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("gpups-data-").FullName;

    /// <summary>Writes <paramref name="content"/> to a file named <paramref name="name"/>, gzip-compressed when the name ends in .gz.</summary>
    public string Write(string name, string content)
    {
        string path = System.IO.Path.Combine(Path, name);
        using FileStream file = File.Create(path);
        using Stream target = name.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionLevel.Fastest) : file;
        target.Write(Encoding.UTF8.GetBytes(content));
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
