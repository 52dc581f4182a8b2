using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuPs.Integration.Tests.Deploy;

/// <summary>
/// What the images in <c>docker/</c> run by default works for the unprivileged user they run as: a default <c>train</c>
/// writes its result and model into a folder the Dockerfile gives that user (<c>install -d -o app</c>), not into the
/// root-owned <c>WORKDIR /app</c>. No container engine needed (like the compose and Kubernetes tests).
/// </summary>
public partial class DockerfileTests
{
    [Theory]
    [InlineData("Dockerfile")]
    [InlineData("Dockerfile.cuda")]
    public async Task A_default_train_writes_into_a_folder_the_images_user_owns(string file)
    {
        string dockerfile = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "docker", file));
        Assert.Contains("USER app", dockerfile);
        string[] command = JsonSerializer.Deserialize<string[]>(Cmd().Match(dockerfile).Groups[1].Value)!;
        if (command[0] != "train") return;
        int flag = Array.IndexOf(command, "--output");
        string output = flag >= 0 ? command[flag + 1] : "results/train.json";   // train's default, relative to WORKDIR
        string full = Path.IsPathRooted(output) ? output : $"{Workdir().Matches(dockerfile)[^1].Groups[1].Value.TrimEnd('/')}/{output}";
        var owned = AppFolders().Match(dockerfile).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(owned.Any(folder => full.StartsWith(folder + "/", StringComparison.Ordinal)),
            $"{file}: CMD {string.Join(' ', command)} writes {full}, but the user app owns only {string.Join(", ", owned)}");
    }

    [GeneratedRegex(@"^CMD (\[.*\])\s*$", RegexOptions.Multiline)]
    private static partial Regex Cmd();

    [GeneratedRegex(@"^WORKDIR (\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex Workdir();

    [GeneratedRegex(@"install -d -o app -g app ([^\\&\n]+)")]
    private static partial Regex AppFolders();
}
