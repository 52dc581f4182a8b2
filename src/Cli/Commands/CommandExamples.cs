namespace GpuPs.Cli.Commands;

/// <summary>
/// The examples each command's <c>--help</c> ends with, by command path (<c>"bench kernels"</c>). Kept in one place, apart
/// from the commands, so that a new command adds its lines here; a test checks that every command has some.
/// </summary>
public static class CommandExamples
{
    private static readonly Dictionary<string, string[]> ByPath = new()
    {
        [""] = ["gpups train", "gpups train --help", "gpups report results"],
        ["train"] = [
            "gpups train                                   # softmax on digits, 4 workers, BSP",
            "gpups train --model mlp --optimizer adam --learning-rate 0.01",
            "gpups train --mode coded --stragglers 1 --straggler-model persistent:count=1,delay=0.2 --processes",
            "gpups train --workers 8 --nodes 2                  # hierarchical: 2 nodes of 4 workers, one aggregator each",
            "gpups train --dataset csv:/data/iris.csv --output results/iris.json   # model: results/iris.safetensors"],
        ["server"] = [
            "gpups server --workers 2 --servers 1 --token-file job.token --output model.safetensors",
            "gpups server --workers 4 --servers 2 --shard-index 1 --urls http://0.0.0.0:5001 --token-file job.token --metrics-port 9101"],
        ["worker"] = [
            "gpups worker --server http://host0:5000,http://host1:5001 --token-file job.token",
            "GPUPS_TOKEN=$(cat job.token) gpups worker --server http://host0:5000 --accelerator cuda --worker-id 3",
            "gpups worker --server http://host0:5000 --worker-id 5 --topology topology.txt --token-file job.token   # pushes through its node's aggregator"],
        ["aggregator"] = [
            "gpups aggregator --topology topology.txt --node node-a --server http://host0:5000,http://host1:5001 --token-file job.token",
            "gpups aggregator --topology topology.txt --node node-b --server http://host0:5000 --urls http://0.0.0.0:6000 --gather-timeout-ms 5000 --token-file job.token"],
        ["bench"] = ["gpups bench kernels", "gpups bench stragglers --quick"],
        ["bench kernels"] = ["gpups bench kernels --csv results/kernels.csv --plot results/kernels.png"],
        ["bench wire"] = ["gpups bench wire --csv results/wire.csv", "gpups bench wire --paths raw,tcp --peer-csv pslite.csv   # beside benchmarks/pslite/run.sh's CSV"],
        ["bench aggregation"] = ["gpups bench aggregation --repetitions 15"],
        ["bench network"] = [
            "sudo gpups bench network                      # 8 workers, 4M parameters, 1 Gbit/s server links",
            "sudo gpups bench network --scenarios server-link --server-mbit 200 --steps 6 --plot-dir results"],
        ["bench load"] = ["gpups bench load --workers 64 --steps 1000 --parameters 4096"],
        ["bench network"] = ["sudo gpups bench network --workers 8 --steps 8 --csv results/bench-network.csv"],
        ["bench stragglers"] = [
            "gpups bench stragglers --quick",
            "gpups bench stragglers --schemes bsp,coded-fractional --stragglers 1 --delays 'persistent:count=1,delay=0.5' --steps 60"],
        ["codes"] = ["gpups codes --workers 8 --stragglers 2", "gpups codes --workers 6 --stragglers 1 --code cyclic --json"],
        ["status"] = ["gpups status --server http://host0:5000 --token-file job.token", "gpups status --server http://host0:5000 --token-file job.token --watch"],
        ["health"] = ["gpups health --server http://127.0.0.1:5000"],
        ["report"] = ["gpups report results", "gpups report results --output results/report"],
        ["evaluate"] = [
            "gpups evaluate results/train.safetensors",
            "gpups evaluate --shards shard0.safetensors,shard1.safetensors --workers 4 --servers 2 --export model.safetensors"],
    };

    /// <summary>The example command lines of the command at <paramref name="path"/> (names after <c>gpups</c>, space-separated); none if it has none.</summary>
    public static IReadOnlyList<string> For(string path) => ByPath.TryGetValue(path, out var lines) ? lines : [];
}
