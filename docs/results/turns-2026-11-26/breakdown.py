#!/usr/bin/env python3
"""Where a BSP step goes, from a `gpups bench network --timeline-dir` CSV (issue 9, early pulls).

For steps 1 .. n-2 (step 0 holds start-up and JIT; the last has no next step), with R_t the moment the last worker had
all of step t's parameters (its compute starts), F_t when the slowest worker's gradient was ready, P_t when the last
piece of step t was in (its last push answered) and R_t+1:
  cycle         R_t+1 - R_t (the step as the slowest worker sees it)
  compute       the workers' mean compute of step t
  spread        F_t - R_t - compute: waiting for the slowest worker (its first range closes the first range)
  pushes after  P_t - F_t: pushes still going after the slowest worker was ready (its own pieces go last)
  last pull     R_t+1 - P_t: the last range's pull (and the answer's way back) after the last piece was in
  busy in/out/either: share of the cycle's 10 ms samples with the server link above half its rate
Usage: breakdown.py TIMELINE.csv [RATE_MBIT]"""
import csv, sys
from collections import defaultdict

path = sys.argv[1]
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
phases = defaultdict(dict)   # (step) -> worker -> kind -> (from, to)
link = []
for row in csv.DictReader(open(path)):
    if row["kind"] == "link":
        link.append((float(row["from_s"]), float(row["in_mbit_s"] or 0), float(row["out_mbit_s"] or 0)))
    else:
        phases[int(row["step"])].setdefault(int(row["worker"]), {})[row["kind"]] = (float(row["from_s"]), float(row["to_s"]))
steps = sorted(phases)
cols = defaultdict(list)
for t in steps[1:-1]:
    now, nxt = phases[t], phases[t + 1]
    R = max(w["compute"][0] for w in now.values())
    F = max(w["compute"][1] for w in now.values())
    P = max(w["push"][1] for w in now.values())
    R1 = max(w["compute"][0] for w in nxt.values())
    compute = sum(w["compute"][1] - w["compute"][0] for w in now.values()) / len(now)
    samples = [s for s in link if R <= s[0] < R1]
    half = rate / 2
    cols["cycle"].append(R1 - R)
    cols["compute"].append(compute)
    cols["spread"].append(F - R - compute)
    cols["pushes after"].append(P - F)
    cols["last pull"].append(R1 - P)
    if samples:
        cols["busy in"].append(sum(s[1] >= half for s in samples) / len(samples))
        cols["busy out"].append(sum(s[2] >= half for s in samples) / len(samples))
        cols["busy either"].append(sum(s[1] >= half or s[2] >= half for s in samples) / len(samples))
print(f"{path}: steps {steps[1]}..{steps[-2]}, means")
for name, values in cols.items():
    print(f"  {name:13s} {sum(values) / len(values):7.3f}")
