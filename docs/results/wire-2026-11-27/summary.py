"""Rows of the A/B sets (base-R.csv: main at 31d6682; new-R.csv: with arriving-hash.patch), tcp against tcp-nocheck.

python3 summary.py   (in this folder) prints, per set: each path's mean MB/s, p50, CPU per operation in each process,
the p50 ratio tcp / tcp-nocheck, and how busy the two cores were (client + server CPU over twice the mean latency)."""
import csv

for name in ("base-1", "new-1", "base-2", "new-2"):
    rows = {(r["Path"], r["Operation"]): r for r in csv.DictReader(open(f"{name}.csv"))}
    print(f"== {name}")
    for (path, op), r in rows.items():
        cpu = float(r["ClientCpuMicroseconds"]) + float(r["ServerCpuMicroseconds"])
        busy = cpu / (2 * float(r["MeanMicroseconds"]))
        print(f"{path:12} {op:5} {float(r['MeanMBps']):6.0f} MB/s  p50 {float(r['P50Microseconds']):6.0f} us  "
              f"CPU client {float(r['ClientCpuMicroseconds']):5.0f} server {float(r['ServerCpuMicroseconds']):5.0f} us  cores busy {busy:.2f}")
    for op in ("push", "pull"):
        ratio = float(rows[("tcp", op)]["P50Microseconds"]) / float(rows[("tcp-nocheck", op)]["P50Microseconds"])
        print(f"   {op}: p50 tcp / tcp-nocheck {ratio:.3f}")
