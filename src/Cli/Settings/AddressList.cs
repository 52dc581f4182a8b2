namespace GpuPs.Cli.Settings;

/// <summary>A comma-separated list of gRPC addresses as options take them (<c>--server</c>, <c>--urls</c>).</summary>
public static class AddressList
{
    /// <summary>The addresses in <paramref name="list"/>, each an absolute http:// or https:// URL.</summary>
    /// <exception cref="SettingsException">One is not, named with <paramref name="option"/>.</exception>
    public static string[] Parse(string list, string option)
    {
        var items = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var a in items)
            if (!Uri.TryCreate(a, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                throw new SettingsException($"{option}: '{a}' is not an http:// or https:// address");
        return items;
    }

    /// <summary>The one address in <paramref name="value"/> (commands that talk to a single server: status, health).</summary>
    /// <exception cref="SettingsException">It is not an http:// or https:// URL, or it lists several.</exception>
    public static string ParseOne(string value, string option) => Parse(value, option) switch
    {
        [var one] => one,
        var items => throw new SettingsException($"{option}: give one server's address (got {items.Length})"),
    };
}
