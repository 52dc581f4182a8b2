# series.py SAMPLES.jsonl GROUP [WINDOW_S]: one CPU group's CPU per window by thread kind (pool, tiered JIT, main,
# other) and its throttling, from sample.py's samples.
import json, sys, collections
g_want = sys.argv[2]; win = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
prev = {}; rows = collections.OrderedDict(); pst = None; T0 = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["g"] != g_want: continue
    t = r["t"]; T0 = T0 or t
    b = int((t - T0) // win)
    row = rows.setdefault(b, collections.Counter())
    for tid, (comm, ns) in r["th"].items():
        if tid in prev: row[comm] += ns - prev[tid]
        prev[tid] = ns
    st = {k: int(v) for k, v in r["stat"].items()}
    if pst: row["_thr"] += st["throttled_time"] - pst["throttled_time"]; row["_nthr"] += st["nr_throttled"] - pst["nr_throttled"]; row["_per"] += st["nr_periods"] - pst["nr_periods"]
    pst = st
for b, row in rows.items():
    tot = sum(v for k, v in row.items() if not k.startswith("_"))
    print(f"{b*win:6.0f}s cpu {tot/1e6/win:6.1f} ms/s  TP {row['.NET TP Worker']/1e6/win:6.1f}  JIT {row['.NET Tiered Com']/1e6/win:6.1f}  main {row['gpups']/1e6/win:5.1f}  other {(tot-row['.NET TP Worker']-row['.NET Tiered Com']-row['gpups'])/1e6/win:5.1f}  throttled {row['_nthr']}/{row['_per']} {row['_thr']/1e6/win:6.1f} ms/s")
