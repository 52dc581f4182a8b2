# threads.py SAMPLES.jsonl: per CPU group (gpups-PID-ROLE), the CPU each thread used (schedstat, since the thread
# started) and the group's throttling over the sampled time (cpu.stat deltas). Samples from sample.py.
import json, sys, collections
first_stat, last_stat, t0, t1, last = {}, {}, {}, {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line); g = r["g"]
    first_stat.setdefault(g, r["stat"]); t0.setdefault(g, r["t"])
    last_stat[g], t1[g] = r["stat"], r["t"]
    for tid, (comm, ns) in r["th"].items(): last[(g, tid)] = (comm, ns)
for g in sorted(t0):
    threads = collections.Counter({(comm, tid): ns for (gg, tid), (comm, ns) in last.items() if gg == g})
    total = sum(threads.values())
    d = {k: int(last_stat[g][k]) - int(first_stat[g][k]) for k in last_stat[g]}
    print(f"{g}: {t1[g] - t0[g]:.1f} s sampled, CPU {total / 1e9:.2f} s; throttled {d['nr_throttled']} of {d['nr_periods']} periods, {d['throttled_time'] / 1e9:.2f} s")
    for (comm, tid), ns in threads.most_common(12):
        print(f"   {comm:24s} {tid:>8s} {ns / 1e9:7.3f} s  {100 * ns / total:5.1f} %")
