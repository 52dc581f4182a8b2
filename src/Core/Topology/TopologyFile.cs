using GpuPs.Core.Data;

namespace GpuPs.Core.Topology;

/// <summary>
/// Reads a topology file: one node per line, <c>LABEL workers=IDS [aggregator=URL[,URL…]] [rack=LABEL]</c>, where IDS
/// is a comma-separated list of worker ids and ranges (<c>0-3,8</c>) and the aggregator gives one address per shard in
/// shard order: <c>http(s)://</c> for its gRPC endpoint, <c>tcp://</c> for its framed TCP data plane (workers push and
/// pull there without gRPC's copies). Blank lines and text after <c>#</c> are ignored. Anything else is refused with a
/// <see cref="DataFormatException"/> naming the file, the line and the reason; nothing is half-read.
/// </summary>
/// <example>
/// <code>
/// # node   workers     aggregator (one per shard)                          rack
/// node-a   workers=0-3 aggregator=http://169.254.1.10:6000,http://169.254.1.10:6001 rack=r1
/// node-b   workers=4-7 aggregator=http://169.254.1.11:6000,http://169.254.1.11:6001 rack=r1
/// </code>
/// </example>
public static class TopologyFile
{
    /// <summary>Largest worker id a file may name (jobs are far smaller; this only stops a typo from allocating).</summary>
    public const int MaxWorkerId = 1 << 16;

    /// <summary>Reads and parses the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">A malformed line (named with its reason), or no node at all.</exception>
    public static ClusterTopology Load(string path) => Parse(File.ReadAllLines(path), path);

    /// <summary>Parses <paramref name="lines"/>; <paramref name="source"/> names them in errors.</summary>
    /// <exception cref="DataFormatException">A malformed line (named with its reason), or no node at all.</exception>
    public static ClusterTopology Parse(IReadOnlyList<string> lines, string source)
    {
        var nodes = new List<TopologyNode>();
        var lineOfNode = new Dictionary<string, int>();
        var lineOfWorker = new Dictionary<int, int>();
        for (int i = 0; i < lines.Count; i++)
        {
            int line = i + 1;
            var text = lines[i];
            int hash = text.IndexOf('#');
            if (hash >= 0) text = text[..hash];
            var tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0) continue;
            var node = ParseNode(tokens, s => new DataFormatException(source, line, s));
            if (lineOfNode.TryGetValue(node.Label, out var first))
                throw new DataFormatException(source, line, $"node '{node.Label}' is already defined on line {first}");
            foreach (var w in node.Workers)
                if (!lineOfWorker.TryAdd(w, line))
                    throw new DataFormatException(source, line, $"worker {w} is already on a node (line {lineOfWorker[w]}); a worker runs on one node");
            lineOfNode[node.Label] = line;
            nodes.Add(node);
        }
        if (nodes.Count == 0) throw new DataFormatException(source, "no node defined (expected lines like 'node-a workers=0-3 aggregator=http://host:6000')");
        return new ClusterTopology(nodes);
    }

    /// <summary>The file text of <paramref name="topology"/>, which <see cref="Parse"/> reads back as the same nodes.</summary>
    public static string Format(ClusterTopology topology) => string.Concat(topology.Nodes.Select(n =>
        $"{n.Label} workers={string.Join(",", n.Workers)}" +
        (n.Aggregators.Count > 0 ? $" aggregator={string.Join(",", n.Aggregators)}" : "") +
        (n.Rack.Length > 0 ? $" rack={n.Rack}" : "") + "\n"));

    private static TopologyNode ParseNode(string[] tokens, Func<string, Exception> error)
    {
        var label = tokens[0];
        if (label.Contains('=')) throw error($"a line starts with the node's label, not '{label}'");
        if (!IsLabel(label)) throw error($"node label '{label}' may hold only letters, digits, '.', '_' and '-'");
        int[]? workers = null;
        string[] aggregators = [];
        string rack = "";
        var seen = new HashSet<string>();
        foreach (var token in tokens.Skip(1))
        {
            int eq = token.IndexOf('=');
            if (eq <= 0) throw error($"'{token}' is not KEY=VALUE (keys: workers, aggregator, rack)");
            var (key, value) = (token[..eq], token[(eq + 1)..]);
            if (!seen.Add(key)) throw error($"'{key}' is given twice");
            if (value.Length == 0) throw error($"'{key}' has no value");
            switch (key)
            {
                case "workers": workers = ParseIds(value, error); break;
                case "aggregator": aggregators = ParseUrls(value, error); break;
                case "rack":
                    if (!IsLabel(value)) throw error($"rack label '{value}' may hold only letters, digits, '.', '_' and '-'");
                    rack = value;
                    break;
                default: throw error($"unknown key '{key}' (keys: workers, aggregator, rack)");
            }
        }
        if (workers is null) throw error($"node '{label}' has no workers=IDS");
        return new TopologyNode(label, workers, aggregators, rack);
    }

    private static int[] ParseIds(string value, Func<string, Exception> error)
    {
        var ids = new SortedSet<int>();
        foreach (var part in value.Split(','))
        {
            var bounds = part.Split('-');
            if (bounds.Length > 2 || !bounds.All(b => int.TryParse(b, System.Globalization.NumberStyles.None, null, out _)))
                throw error($"'{part}' is not a worker id or a range like 0-3");
            int from = int.Parse(bounds[0]), to = int.Parse(bounds[^1]);
            if (to < from) throw error($"range '{part}' runs backwards");
            if (to > MaxWorkerId) throw error($"worker id {to} is beyond {MaxWorkerId}");
            for (int id = from; id <= to; id++)
                if (!ids.Add(id)) throw error($"worker {id} is named twice");
        }
        return [.. ids];
    }

    private static string[] ParseUrls(string value, Func<string, Exception> error)
    {
        var urls = value.Split(',');
        foreach (var url in urls)
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https" && uri.Scheme != "tcp") || uri.Port <= 0)
                throw error($"aggregator address '{url}' is not http://HOST:PORT, https://HOST:PORT or tcp://HOST:PORT (the aggregator's data plane)");
        return urls;
    }

    private static bool IsLabel(string s) => s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
