using GpuPs.Core.Data;
using GpuPs.Core.Topology;

namespace GpuPs.Core.Tests.Topology;

/// <summary>The topology file: nodes, their workers and aggregators read back exactly; a malformed line is refused with its number and reason.</summary>
public class TopologyFileTests
{
    [Fact]
    public void A_file_names_each_workers_node_its_aggregators_and_rack_and_formats_back_to_the_same()
    {
        var topology = TopologyFile.Parse([
            "# two nodes",
            "node-a workers=0-2,7 aggregator=http://169.254.1.10:6000,http://169.254.1.10:6001 rack=r1",
            "",
            "node-b   workers=3,4-6   # no aggregator: its workers push directly",
            "node-c workers=8 aggregator=tcp://169.254.1.12:7000,tcp://169.254.1.12:7001   # data-plane endpoints",
        ], "t.txt");

        Assert.Equal(["node-a", "node-b", "node-c"], topology.Nodes.Select(n => n.Label));
        Assert.Equal([0, 1, 2, 7], topology.Node("node-a").Workers);
        Assert.Equal(["http://169.254.1.10:6000", "http://169.254.1.10:6001"], topology.Node("node-a").Aggregators);
        Assert.Equal("r1", topology.Node("node-a").Rack);
        Assert.Equal("node-b", topology.NodeOf(5)!.Label);
        Assert.Empty(topology.Node("node-b").Aggregators);
        Assert.Equal(["tcp://169.254.1.12:7000", "tcp://169.254.1.12:7001"], topology.Node("node-c").Aggregators);
        Assert.Null(topology.NodeOf(9));

        var again = TopologyFile.Parse(TopologyFile.Format(topology).Split('\n'), "formatted");
        Assert.Equal(topology.Nodes.Select(Describe), again.Nodes.Select(Describe));
        topology.Validate(workers: 9, shards: 2);
        Assert.Contains("names worker 8", Assert.Throws<ArgumentException>(() => topology.Validate(workers: 8, shards: 2)).Message);
        Assert.Contains("2 aggregator addresses, the job has 1 shards", Assert.Throws<ArgumentException>(() => topology.Validate(workers: 9, shards: 1)).Message);
    }

    [Theory]
    [InlineData("workers=0-3", "a line starts with the node's label")]
    [InlineData("node-a", "node 'node-a' has no workers=IDS")]
    [InlineData("node-a workers=0-3 workers=4", "'workers' is given twice")]
    [InlineData("node-a workers=0,x", "'x' is not a worker id or a range like 0-3")]
    [InlineData("node-a workers=3-1", "range '3-1' runs backwards")]
    [InlineData("node-a workers=-1", "'-1' is not a worker id")]
    [InlineData("node-a workers=1,1", "worker 1 is named twice")]
    [InlineData("node-a workers=0 gpus=2", "unknown key 'gpus'")]
    [InlineData("node-a workers=0 aggregator=ftp://h:1", "aggregator address 'ftp://h:1' is not http://HOST:PORT")]
    [InlineData("node-a workers=0 aggregator=", "'aggregator' has no value")]
    [InlineData("node/a workers=0", "node label 'node/a' may hold only")]
    [InlineData("node-a workers=0 rack=a:b", "rack label 'a:b' may hold only")]
    [InlineData("node-a workers=0 stray", "'stray' is not KEY=VALUE")]
    public void A_malformed_line_is_refused_with_its_number_and_reason(string line, string reason)
    {
        var e = Assert.Throws<DataFormatException>(() => TopologyFile.Parse(["# header", line], "topo.txt"));
        Assert.Equal(2, e.Line);
        Assert.Contains("topo.txt line 2", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void A_worker_or_node_named_twice_names_the_line_that_had_it_first()
    {
        var worker = Assert.Throws<DataFormatException>(() => TopologyFile.Parse(["a workers=0-3", "b workers=3-5"], "t"));
        Assert.Equal("t line 2: worker 3 is already on a node (line 1); a worker runs on one node", worker.Message);
        var node = Assert.Throws<DataFormatException>(() => TopologyFile.Parse(["a workers=0", "", "a workers=1"], "t"));
        Assert.Equal("t line 3: node 'a' is already defined on line 1", node.Message);
        Assert.Contains("no node defined", Assert.Throws<DataFormatException>(() => TopologyFile.Parse(["# nothing"], "t")).Message);
    }

    [Fact]
    public void Even_splits_consecutive_ids_into_nodes_whose_sizes_differ_by_at_most_one()
    {
        var topology = ClusterTopology.Even(workers: 7, nodes: 3);
        Assert.Equal([[0, 1], [2, 3], [4, 5, 6]], topology.Nodes.Select(n => n.Workers.ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClusterTopology.Even(2, 3));
    }

    private static string Describe(TopologyNode n) => $"{n.Label}|{string.Join(",", n.Workers)}|{string.Join(",", n.Aggregators)}|{n.Rack}";
}
