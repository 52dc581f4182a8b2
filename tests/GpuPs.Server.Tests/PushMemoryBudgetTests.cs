using GpuPs.Server;

namespace GpuPs.Server.Tests;

/// <summary>Issue 11, the in-flight push memory budget: reservations fit or are refused and counted; releases give room back.</summary>
public class PushMemoryBudgetTests
{
    [Fact]
    public void Reservations_fit_up_to_the_capacity_the_next_is_refused_and_a_release_makes_room()
    {
        var budget = new PushMemoryBudget(100);

        Assert.True(budget.TryReserve(40));
        Assert.True(budget.TryReserve(60));
        Assert.False(budget.TryReserve(1));
        Assert.Equal((100, 100, 1), (budget.InUse, budget.Peak, budget.Refused));

        budget.Release(60);
        Assert.False(budget.TryReserve(61));
        Assert.True(budget.TryReserve(60));
        budget.Release(60);
        budget.Release(40);
        Assert.Equal((0, 100, 2), (budget.InUse, budget.Peak, budget.Refused));
    }

    [Fact]
    public void Concurrent_reservations_never_exceed_the_capacity()
    {
        var budget = new PushMemoryBudget(1000);
        long admitted = 0;

        Parallel.For(0, 20_000, _ =>
        {
            if (!budget.TryReserve(7)) return;
            Interlocked.Increment(ref admitted);
            budget.Release(7);
        });

        Assert.True(budget.Peak <= 1000, $"peak {budget.Peak}");
        Assert.Equal(0, budget.InUse);
        Assert.Equal(20_000, admitted + budget.Refused);
    }
}
