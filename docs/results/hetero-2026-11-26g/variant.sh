#!/bin/bash
# variant.sh NAME "ENV=.." [binary dir] [scenarios] : one bench hetero run with the env for every process, sampled.
name=$1; env=$2; bin=${3:-/tmp/hetero7-base}; sc=${4:-proportional}; steps=${5:-40}
cd "$(dirname "$0")"
python3 sample.py ${OUT:-/tmp/hetero7}/s-$name.jsonl 400 & sp=$!
start=$(date +%s)
RUN_ENV="$env" DOTNET_HOST_PATH=$PWD/dotnet-wrap timeout 900 dotnet $bin/gpups.dll bench hetero --scenarios $sc --steps $steps --csv ${OUT:-/tmp/hetero7}/r-$name.csv > ${OUT:-/tmp/hetero7}/r-$name.out 2>&1
echo "== $name ($env) $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
kill $sp
grep -E "bsp  |worker [0-9]:" ${OUT:-/tmp/hetero7}/r-$name.out | cut -c1-250
