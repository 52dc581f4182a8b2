import csv, sys, math, collections
res = collections.defaultdict(lambda: {'push': [], 'pull': []})
for f in sys.argv[1:]:
    by = collections.defaultdict(dict)
    for r in csv.DictReader(open(f)): by[(int(r['alt']), r['op'])][r['combo']] = float(r['mbps'])
    for (a, op), d in by.items():
        for c, v in d.items(): res[c][op].append(v / d['AA'])
print("combo  push: >=1.15 / n, geomean x AA, [min-max]   | pull: same")
for c, d in res.items():
    out = []
    for op in ('push', 'pull'):
        x = d[op]
        out.append(f"{sum(v >= 1.15 for v in x):2}/{len(x):2} gm {math.exp(sum(map(math.log, x))/len(x)):4.2f} [{min(x):.2f}-{max(x):.2f}]")
    print(f"{c:5}  " + "  |  ".join(out))
