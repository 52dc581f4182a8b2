using GpuPs.Core.Coding;
using GpuPs.Core.Modes;
using GpuPs.Core.Tests.Data;
using GpuPs.Core.Training;
using GpuPs.Protocol;

namespace GpuPs.Core.Tests.Modes;

/// <summary>
/// Each mode's facts as <see cref="ISyncMode"/> documents them (and the README's mode table), the registry's lookups and
/// refusals, and what each push policy puts in a push: the plain sum, the coded vector's real coefficients B[i,j] and
/// the step's rows, or one partition per push.
/// </summary>
public class SyncModeRulesTests
{
    // name, synchronous, tolerates s, resumes at the shard's step, rounded pushes, by speed, combining, partitions per worker (s = 2), worst-case responders (n = 6, s = 2)
    public static TheoryData<string, SyncMode, bool, bool, bool, bool, bool, PushCombining, int, int> Facts => new()
    {
        { "bsp", SyncMode.Bsp, true, false, true, true, true, PushCombining.Sum, 1, 6 },
        { "asp", SyncMode.Asp, false, false, false, true, false, PushCombining.None, 1, 6 },
        { "ssp", SyncMode.Ssp, false, false, false, true, false, PushCombining.None, 1, 6 },
        { "coded", SyncMode.Coded, true, true, false, false, true, PushCombining.EqualCodeRows, 3, 4 },
        { "multi-message", SyncMode.MultiMessage, true, true, false, true, false, PushCombining.None, 3, 6 },
        { "backup", SyncMode.Backup, true, true, false, true, true, PushCombining.Sum, 1, 4 },
    };

    [Theory]
    [MemberData(nameof(Facts))]
    public void Each_mode_states_its_documented_facts(string name, SyncMode id, bool synchronous, bool tolerates, bool resumes, bool rounded,
        bool bySpeed, PushCombining combining, int partitions, int worstCase)
    {
        var mode = SyncModes.Parse(name);

        Assert.Same(mode, SyncModes.Of(id));
        Assert.Same(mode, SyncModes.Parse(name.ToUpperInvariant()));
        AssertFacts(mode, name, id, synchronous, tolerates, resumes, rounded, bySpeed, combining, partitions, worstCase);
    }

    /// <summary>
    /// The registry builds each mode once, in a static list; a mode built anew states the same facts. (Its constructor
    /// passes them: only a test that builds one runs it where a mutation tool that keeps one test process sees it.)
    /// </summary>
    [Theory]
    [MemberData(nameof(Facts))]
    public void A_mode_built_anew_states_the_same_facts(string name, SyncMode id, bool synchronous, bool tolerates, bool resumes, bool rounded,
        bool bySpeed, PushCombining combining, int partitions, int worstCase)
    {
        ISyncMode mode = id switch
        {
            SyncMode.Bsp => new BspMode(),
            SyncMode.Asp => new AspMode(),
            SyncMode.Ssp => new SspMode(),
            SyncMode.Coded => new CodedMode(),
            SyncMode.MultiMessage => new MultiMessageMode(),
            _ => new BackupMode(),
        };

        Assert.NotSame(SyncModes.Of(id), mode);
        AssertFacts(mode, name, id, synchronous, tolerates, resumes, rounded, bySpeed, combining, partitions, worstCase);
    }

    private static void AssertFacts(ISyncMode mode, string name, SyncMode id, bool synchronous, bool tolerates, bool resumes, bool rounded,
        bool bySpeed, PushCombining combining, int partitions, int worstCase)
    {
        Assert.Equal((id, name), (mode.Mode, mode.Name));
        Assert.Equal((synchronous, tolerates, resumes, rounded, bySpeed, combining),
            (mode.IsStepSynchronous, mode.ToleratesStragglers, mode.ResumesAtShardStep, mode.AcceptsRoundedPushes, mode.AssignsBySpeed, mode.Combining));
        Assert.Equal((partitions, worstCase), (mode.PartitionsPerWorker(2), mode.WorstCaseResponders(6, 2)));
    }

    [Fact]
    public void Unknown_modes_are_refused_with_the_names_that_exist()
    {
        var parsed = Assert.Throws<ArgumentException>(() => SyncModes.Parse("bulk"));
        var unspecified = Assert.Throws<ArgumentException>(() => SyncModes.Of((SyncMode)99));

        Assert.Contains("unknown sync mode 'bulk': use bsp, asp, ssp, coded, multi-message, backup", parsed.Message);
        Assert.Contains("bsp, asp, ssp, coded, multi-message, backup (got 99)", unspecified.Message);
    }

    [Fact]
    public void A_coded_push_weighs_each_held_partition_by_its_coefficient_of_B_and_counts_the_steps_rows()
    {
        var code = new CyclicRepetitionCode(5, 2);   // real coefficients, not 0/1
        var plan = new PartitionPlan(TestData.Indexed(103), code, workerId: 1, batchSize: 0);

        var policy = SyncModes.Of(SyncMode.Coded).CreatePushPolicy(plan, 1);
        var header = policy.Header(step: 7, h: null, lossSum: 2.5);

        Assert.False(policy.PushesEachPartition);
        Assert.Equal(plan.Held.Select(j => (float)code[1, j]), Enumerable.Range(0, plan.Held.Count).Select(policy.Weight));
        Assert.Contains(Enumerable.Range(0, plan.Held.Count), h => policy.Weight(h) != 1f);
        Assert.Equal(new PushHeader(1, 7, 0, 103, 2.5, CodeRow: 1), header);
    }

    [Fact]
    public void A_plain_push_sums_its_partitions_with_weight_one_and_counts_its_own_rows()
    {
        var code = new CyclicRepetitionCode(5, 2);
        var plan = new PartitionPlan(TestData.Indexed(103), code, workerId: 1, batchSize: 0);

        var policy = SyncModes.Of(SyncMode.Backup).CreatePushPolicy(plan, 1);

        Assert.False(policy.PushesEachPartition);
        Assert.All(Enumerable.Range(0, plan.Held.Count), h => Assert.Equal(1f, policy.Weight(h)));
        Assert.Equal(new PushHeader(1, 7, 0, plan.Data.Rows, 2.5), policy.Header(7, null, 2.5));
    }

    [Fact]
    public void A_multi_message_push_carries_one_held_partition_and_its_rows()
    {
        var code = new FractionalRepetitionCode(6, 2);
        var plan = new PartitionPlan(TestData.Indexed(60), code, workerId: 4, batchSize: 0);

        var policy = SyncModes.Of(SyncMode.MultiMessage).CreatePushPolicy(plan, 4);

        Assert.True(policy.PushesEachPartition);
        Assert.Equal(1f, policy.Weight(1));
        Assert.Equal(new PushHeader(4, 3, 0, plan.BatchRowsOf(1), 0.5, Partition: plan.Held[1]), policy.Header(3, 1, 0.5));
        Assert.Contains("one partition", Assert.Throws<ArgumentNullException>(() => policy.Header(3, null, 0.5)).Message);
    }
}
