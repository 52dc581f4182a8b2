#!/bin/bash
# run.sh NAME BIN SCENARIOS STEPS : one bench hetero run, every child's log kept in ${OUT:-/tmp/hetero8}/logs-NAME
name=$1; bin=$2; sc=$3; steps=$4; mkdir -p ${OUT:-/tmp/hetero8}
export LOGDIR=${OUT:-/tmp/hetero8}/logs-$name; rm -rf $LOGDIR; mkdir -p $LOGDIR
start=$(date +%s); l0=$(cut -d' ' -f1 /proc/loadavg)
DOTNET_HOST_PATH=$PWD/dotnet-log timeout 900 dotnet $bin/gpups.dll bench hetero --scenarios $sc --steps $steps \
  --csv ${OUT:-/tmp/hetero8}/r-$name.csv --plot ${OUT:-/tmp/hetero8}/r-$name.png > ${OUT:-/tmp/hetero8}/r-$name.out 2>&1
echo "== $name $bin $sc $steps: $(( $(date +%s) - start )) s, $(date -u +%H:%M), load $l0 -> $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a ${OUT:-/tmp/hetero8}/runs.txt
grep -E "bsp  |settled|rebalanced" ${OUT:-/tmp/hetero8}/r-$name.out | cut -c1-300
