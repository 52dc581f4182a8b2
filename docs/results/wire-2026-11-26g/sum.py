import csv, sys, statistics as st, collections
rows = list(csv.DictReader(open(sys.argv[1])))
by = collections.defaultdict(dict)
for r in rows: by[(int(r['alt']), r['op'])][r['combo']] = r
combos = []
for r in rows:
    if r['combo'] not in combos: combos.append(r['combo'])
for op in ('push', 'pull'):
    print(f"== {op}: MB/s per alternation; ratio to AA (same alternation); median [min-max]; cpu client/server us per op (mean)")
    for c in combos:
        mb = [float(by[(a, op)][c]['mbps']) for (a, o) in sorted(by) if o == op and c in by[(a, op)]]
        ra = [float(by[(a, op)][c]['mbps']) / float(by[(a, op)]['AA']['mbps']) for (a, o) in sorted(by) if o == op and 'AA' in by[(a, op)]]
        rr = [float(by[(a, op)][c]['mbps']) / float(by[(a, op)]['raw']['mbps']) for (a, o) in sorted(by) if o == op and 'raw' in by[(a, op)]]
        cc = st.mean(float(by[(a, op)][c]['client_cpu_us_per_op']) for (a, o) in by if o == op)
        sc = st.mean(float(by[(a, op)][c]['server_cpu_us_per_op']) for (a, o) in by if o == op)
        p50 = st.median(float(by[(a, op)][c]['p50us']) for (a, o) in by if o == op)
        n115 = sum(1 for x in ra if x >= 1.15)
        print(f"{c:4} MB/s {' '.join(f'{x:5.0f}' for x in mb)} | xAA {' '.join(f'{x:4.2f}' for x in ra)} med {st.median(ra):4.2f} (>=1.15 in {n115}/{len(ra)}) | xraw med {st.median(rr):4.2f} [{min(rr):.2f}-{max(rr):.2f}] | p50 {p50:5.0f} us | cpu {cc:5.0f}/{sc:5.0f}")
