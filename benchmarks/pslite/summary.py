"""Summary of sitting.sh's sitting.csv: per path, operation and size, the pooled mean MB/s over every operation of every
round, each round's ratio to the raw socket (and their geometric mean), and each round's p50 and p99 in microseconds."""
import csv
import math
import sys
from collections import defaultdict

rows = defaultdict(list)
order = []
with open(sys.argv[1]) as f:
    for row in csv.DictReader(f):
        key = (int(row["Bytes"]), row["Operation"], row["Path"])
        if key not in rows:
            order.append(key)
        rows[key].append(row)
print("path,operation,bytes,rounds,pooled_mean_MBps,ratio_to_raw_geomean,ratio_to_raw_per_round,p50_us_per_round,p99_us_per_round")
for key in sorted(order, key=lambda k: (-k[0], k[1] != "push", order.index(k))):
    rs = rows[key]
    ops = sum(float(r["Operations"]) for r in rs)
    seconds = sum(float(r["Operations"]) * float(r["MeanMicroseconds"]) / 1e6 for r in rs)
    ratios = [float(r["RatioToRaw"]) for r in rs]
    geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if all(x > 0 for x in ratios) else float("nan")
    per_round = lambda col, fmt: " ".join(fmt.format(float(r[col])) for r in rs)
    print(f"{key[2]},{key[1]},{key[0]},{len(rs)},{ops * key[0] / seconds / 1e6:.0f},{geo:.2f},"
          f"{per_round('RatioToRaw', '{:.2f}')},{per_round('P50Microseconds', '{:.0f}')},{per_round('P99Microseconds', '{:.0f}')}")
