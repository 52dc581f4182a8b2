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

    /// <summary>Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours as one
    /// edit (optimal string alignment): "modle" is one edit from "model" and from "mode", "trian" one from "train".</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i, j - 1] + 1, d[i - 1, j] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
