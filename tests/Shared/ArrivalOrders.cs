namespace GpuPs.Tests.Shared;

/// <summary>Arrival orders of n workers whose prefixes, together, are every one of the 2ⁿ sets of workers.</summary>
public static class ArrivalOrders
{
    /// <summary>
    /// One order per chain of the symmetric chain decomposition of the subsets of n workers (de Bruijn, van Ebbenhorst
    /// Tengbergen and Kruyswijk): read a set as a word with worker i's letter ")" when i is in it and "(" when not, match
    /// the brackets; the sets with the same matched pairs form a chain, from the one whose unmatched letters are all "("
    /// upwards by turning its unmatched "(" into ")" from the left. The order starts with the chain's first set and adds
    /// those workers one at a time, then the rest, so each of the 2ⁿ sets is a prefix of one of the C(n, ⌊n/2⌋) orders,
    /// the fewest that can do it (each order has one prefix of size ⌊n/2⌋).
    /// </summary>
    public static IReadOnlyList<int[]> CoveringEverySubset(int workers)
    {
        var orders = new List<int[]>();
        for (int set = 0; set < 1 << workers; set++)
        {
            var open = new Stack<int>();
            var unmatched = new List<int>();
            for (int i = 0; i < workers; i++)
            {
                if ((set >> i & 1) == 0) open.Push(i);
                else if (open.Count > 0) open.Pop();
                else unmatched.Add(i);
            }
            if (unmatched.Count > 0) continue;   // not the first set of its chain
            var members = Enumerable.Range(0, workers).Where(i => (set >> i & 1) != 0);
            var climb = open.Reverse();
            orders.Add([.. members, .. climb, .. Enumerable.Range(0, workers).Except(members).Except(climb)]);
        }
        return orders;
    }
}
