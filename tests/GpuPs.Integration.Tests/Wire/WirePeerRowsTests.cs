using GpuPs.Benchmarks.Wire;
using GpuPs.Integration.Tests.Cli;

namespace GpuPs.Integration.Tests.Wire;

/// <summary>
/// <c>gpups bench wire --peer-csv</c>: another system's rows (ps-lite's, from <c>benchmarks/pslite/run.sh</c>) are read
/// from its CSV and compared with the raw socket of the run they join; a bad file is refused by line before any run.
/// </summary>
public class WirePeerRowsTests
{
    private const string Header = "Path,Operation,Bytes,Operations,MeanMBps,P50MBps,MeanMicroseconds,P50Microseconds,P99Microseconds,RatioToRaw,ClientCpuMicroseconds,ServerCpuMicroseconds,Label";

    private static WireBenchmarkResult Raw(string operation, int bytes, double meanMBps) =>
        new("raw", operation, bytes, 10, meanMBps, meanMBps, 1, 1, 2, 1, 5, 6);

    [Fact]
    public void Peer_rows_are_read_whole_and_compared_with_the_raw_socket_of_the_same_operation_and_size()
    {
        string path = Write(Header,
            "pslite,push,4194304,345,1432.4,2086.98,2928.16,2009.75,9768.01,NaN,689.616,NaN,pslite push 4 MiB",
            "pslite,pull,4194304,271,1126.4,1574.74,3723.65,2663.49,12534.2,NaN,1200.03,NaN,pslite pull 4 MiB",
            "pslite,push,1024,5718,5.68932,10.4548,179.987,97.945,2589.07,NaN,56.355,NaN,pslite push 1 KiB",
            "");
        try
        {
            var rows = WirePeerRows.Read(path, [Raw("push", 4194304, 2864.8), Raw("pull", 4194304, 1126.4 * 4), Raw("push", 4096, 99)]);

            Assert.Equal(3, rows.Count);
            Assert.Equal(new WireBenchmarkResult("pslite", "push", 4194304, 345, 1432.4, 2086.98, 2928.16, 2009.75, 9768.01, 0.5, 689.616, double.NaN), rows[0]);
            Assert.Equal(0.25, rows[1].RatioToRaw, 12);
            Assert.Equal((1024, 5718L, 97.945, 2589.07), (rows[2].Bytes, rows[2].Operations, rows[2].P50Microseconds, rows[2].P99Microseconds));
            Assert.True(double.IsNaN(rows[2].RatioToRaw));   // the run measured no raw 1 KiB push
            Assert.Equal("pslite pull 4 MiB", rows[1].Label);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(":1: not a wire benchmark CSV", "Path,Op,Bytes", "pslite,push,1024,1,1,1,1,1,1,NaN,1,NaN,x")]
    [InlineData(":3: expected path, push or pull", Header, "pslite,push,1024,1,1,1,1,1,1,NaN,1,NaN,x", "pslite,fetch,1024,1,1,1,1,1,1,NaN,1,NaN,x")]
    [InlineData(":2: expected path, push or pull", Header, "pslite,push,-4,1,1,1,1,1,1,NaN,1,NaN,x")]
    [InlineData(":2: column P99Microseconds is 'fast', not a number", Header, "pslite,pull,1024,1,1,1,1,1,fast,NaN,1,NaN,x")]
    public void A_malformed_peer_file_is_refused_naming_its_line(string message, params string[] lines)
    {
        string path = Write(lines);
        try
        {
            var e = Assert.Throws<FormatException>(() => WirePeerRows.Read(path, []));
            Assert.Contains(path + message, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task Bench_wire_refuses_a_bad_peer_file_with_2_before_it_measures_anything()
    {
        string path = Write("x,y", "1,2");
        try
        {
            var run = await Gpups.RunAsync("bench", "wire", "--peer-csv", path, "--csv", path + ".out.csv");
            Assert.Equal(2, run.ExitCode);
            Assert.Contains($"{path}:1: not a wire benchmark CSV", run.Stderr);
            Assert.False(File.Exists(path + ".out.csv"));
        }
        finally { File.Delete(path); }
    }

    private static string Write(params string[] lines)
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpups-peer-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, lines);
        return path;
    }
}
