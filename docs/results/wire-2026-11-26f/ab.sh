#!/bin/bash
# usage: ab.sh OUTDIR REPS "name:ENV=.. ENV=.." ...
OUT=$1; REPS=$2; shift 2
for r in $(seq 1 $REPS); do
  for v in "$@"; do
    name=${v%%:*}; envs=${v#*:}
    nice -n ${NICE:-0} env $envs /tmp/wire6-knobs/gpups bench wire --seconds ${SECS:-1.5} --paths raw,tcp --sizes 1048576 --csv $OUT/$name-$r.csv --plot $OUT/$name-$r.png > $OUT/$name-$r.log 2>&1
    echo "$(date +%T) $(cut -d' ' -f1 /proc/loadavg) $name-$r done"
  done
done
