#!/bin/bash
# usage: abb.sh OUTDIR REPS "name|BINDIR|ENV=.. ENV=.." ...   (paths raw,tcp at 4 MiB unless PATHS/SIZES set)
OUT=$1; REPS=$2; shift 2
for r in $(seq 1 $REPS); do
  for v in "$@"; do
    IFS='|' read -r name bin envs <<< "$v"
    nice -n ${NICE:-0} env $envs $bin/gpups bench wire --seconds ${SECS:-1.5} --paths ${PATHS:-raw,tcp} --sizes ${SIZES:-1048576} --csv $OUT/$name-$r.csv --plot $OUT/$name-$r.png > $OUT/$name-$r.log 2>&1
    echo "$(date +%T) $(cut -d' ' -f1 /proc/loadavg) $name-$r rc=$?"
  done
done
