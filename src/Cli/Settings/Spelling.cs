namespace GpuPs.Cli.Settings;

/// <summary>"Did you mean …?" for a misspelled name: the closest known name by edit distance, if it is close enough.</summary>
public static class Spelling
{
    /// <summary>
    /// The name of <paramref name="known"/> nearest to <paramref name="typed"/> (case-insensitive Levenshtein distance), or
    /// null when even the nearest differs in more than a third of its letters (then it is another word, not a typo).
    /// </summary>
    public static string? Closest(string typed, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string name in known)
        {
            int d = Distance(typed.ToUpperInvariant(), name.ToUpperInvariant());
            if (d < bestDistance) (best, bestDistance) = (name, d);
        }
        return best is not null && bestDistance <= Math.Max(1, best.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
