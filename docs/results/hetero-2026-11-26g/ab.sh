#!/bin/bash
# The seventh session's loaded A/B: main before (base) and after (new) the change, interleaved; each run's output and
# CSVs in $OUT. base=/tmp/hetero7-base (70a2390), new=/tmp/hetero7-new.
OUT=${OUT:-/tmp/hetero7/ab}; mkdir -p $OUT
run() { # NAME BINARY ARGS...
  local name=$1 bin=$2; shift 2
  local start=$(date +%s) l0=$(cut -d' ' -f1 /proc/loadavg)
  $bin/gpups bench hetero "$@" --csv $OUT/$name.csv --plot $OUT/$name.png > $OUT/$name.out 2>&1
  echo "== $name: $(( $(date +%s) - start )) s, load $l0 -> $(cut -d' ' -f1 /proc/loadavg)"
  grep -E "bsp  |worker [0-9]:" $OUT/$name.out | cut -c1-260
}
for r in ${ROUNDS:-1 2}; do
  for b in base new; do run 124-$b-$r /tmp/hetero7-$b --scenarios uniform,proportional --steps 40; done
  for b in new base; do run drop-$b-$r /tmp/hetero7-$b --scenarios drop-proportional --steps 30; done
done
