import csv,glob,sys,collections,statistics
d=sys.argv[1]
rows=collections.defaultdict(list)
for f in sorted(glob.glob(d+'/*.csv')):
    if f.endswith('-costs.csv'): continue
    name=f.split('/')[-1].rsplit('-',1)[0]
    r={ (x['Path'],x['Operation']):x for x in csv.DictReader(open(f))}
    try:
        rows[name].append(dict(
          push=float(r[('tcp','push')]['RatioToRaw']), pull=float(r[('tcp','pull')]['RatioToRaw']),
          tpush=float(r[('tcp','push')]['MeanMBps']), rpush=float(r[('raw','push')]['MeanMBps']),
          tpull=float(r[('tcp','pull')]['MeanMBps']), rpull=float(r[('raw','pull')]['MeanMBps']),
          p50push=float(r[('tcp','push')]['P50Microseconds'])/float(r[('raw','push')]['P50Microseconds']),
          p50pull=float(r[('tcp','pull')]['P50Microseconds'])/float(r[('raw','pull')]['P50Microseconds']),
          cpush=(float(r[('tcp','push')]['ClientCpuMicroseconds']),float(r[('tcp','push')]['ServerCpuMicroseconds']),float(r[('raw','push')]['ClientCpuMicroseconds']),float(r[('raw','push')]['ServerCpuMicroseconds'])),
          cpull=(float(r[('tcp','pull')]['ClientCpuMicroseconds']),float(r[('tcp','pull')]['ServerCpuMicroseconds']),float(r[('raw','pull')]['ClientCpuMicroseconds']),float(r[('raw','pull')]['ServerCpuMicroseconds']))))
    except KeyError: pass
print(f"{'variant':12} n  push×raw(mean)  pull×raw  | raw/tcp p50 push pull | tcp MB/s push pull | raw MB/s | CPU push cli/srv tcp vs raw | CPU pull cli/srv tcp vs raw")
for k,v in rows.items():
    m=lambda key: statistics.mean(x[key] for x in v)
    c=lambda key,i: statistics.mean(x[key][i] for x in v)
    print(f"{k:12} {len(v)}  {m('push'):.2f} [{min(x['push'] for x in v):.2f}-{max(x['push'] for x in v):.2f}]  {m('pull'):.2f} [{min(x['pull'] for x in v):.2f}-{max(x['pull'] for x in v):.2f}] | {1/m('p50push'):.2f} {1/m('p50pull'):.2f} | {m('tpush'):.0f} {m('tpull'):.0f} | {m('rpush'):.0f} {m('rpull'):.0f} | {c('cpush',0):.0f}/{c('cpush',1):.0f} vs {c('cpush',2):.0f}/{c('cpush',3):.0f} | {c('cpull',0):.0f}/{c('cpull',1):.0f} vs {c('cpull',2):.0f}/{c('cpull',3):.0f}")
