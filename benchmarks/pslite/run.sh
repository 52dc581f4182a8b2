#!/usr/bin/env bash
# Builds ps-lite from a fetched snapshot and measures push and pull of one tensor between a worker and a server process
# (plus the scheduler) on loopback; prints the CSV of bench_wire.cc (the columns of `gpups bench wire`) on stdout.
#
#   benchmarks/pslite/run.sh SNAPSHOT [SECONDS] [SIZES] [KEYS] [ROUNDS]
#     SNAPSHOT  a ps-lite source tree, or a bare git directory of one (e.g. /work/.mirror/dmlc+ps-lite/repo)
#     SECONDS   timed run of each operation and size (default 5); SIZES in float32 values (default 1048576,256);
#     KEYS      keys a tensor is split into (default 1); ROUNDS push/pull slices (default 6)
#   PSLITE_BUILD (default /tmp/pslite-bench): where ps-lite and the benchmark are built, once per snapshot.
#
# Needs g++, make and Debian's libzmq3-dev, libprotobuf-dev and protobuf-compiler: ps-lite's Makefile is pointed at the
# system's ZeroMQ and protobuf (DEPS_PATH=/usr), so nothing is downloaded. Not part of GpuPs's build, tests or CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
snapshot=${1:?usage: $0 SNAPSHOT [SECONDS] [SIZES] [KEYS] [ROUNDS]}
seconds=${2:-5} sizes=${3:-1048576,256} keys=${4:-1} rounds=${5:-6}
build=${PSLITE_BUILD:-/tmp/pslite-bench}

for tool in g++ make protoc; do command -v $tool >/dev/null || { echo "run.sh: $tool not found (apt-get install g++ make protobuf-compiler)" >&2; exit 1; }; done
[ -f /usr/include/zmq.h ] || { echo "run.sh: /usr/include/zmq.h not found (apt-get install libzmq3-dev)" >&2; exit 1; }
[ -f /usr/include/google/protobuf/message.h ] || { echo "run.sh: protobuf headers not found (apt-get install libprotobuf-dev)" >&2; exit 1; }

if [ -d "$snapshot/objects" ] && [ -f "$snapshot/HEAD" ]; then
  revision=$(git --git-dir="$snapshot" rev-parse HEAD)
else
  [ -f "$snapshot/include/ps/ps.h" ] || { echo "run.sh: $snapshot is neither a ps-lite source tree nor a bare git directory of one" >&2; exit 1; }
  revision=tree-$(cd "$snapshot" && find include src -type f -print0 | sort -z | xargs -0 cat | md5sum | cut -c1-12)
fi
src=$build/ps-lite-$revision
if [ ! -f "$src/build/libps.a" ]; then
  rm -rf "$src" && mkdir -p "$src"
  if [ -d "$snapshot/objects" ]; then git --git-dir="$snapshot" archive HEAD | tar -x -C "$src"; else cp -r "$snapshot"/. "$src"; fi
  echo "building ps-lite $revision in $src ..." >&2
  make -C "$src" ps DEPS_PATH=/usr -j2 >"$build/make-$revision.log" 2>&1 || { tail -20 "$build/make-$revision.log" >&2; exit 1; }
fi
binary=$build/bench_wire-$revision
if [ ! -x "$binary" ] || [ "$here/bench_wire.cc" -nt "$binary" ]; then
  g++ -std=c++14 -O3 -pthread -I"$src/include" -I"$src/src" "$here/bench_wire.cc" "$src/build/libps.a" -lprotobuf-lite -lzmq -o "$binary"
fi

# A free loopback port for the scheduler (ps-lite binds the others itself).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DMLC_NUM_SERVER=1 DMLC_NUM_WORKER=1 DMLC_PS_ROOT_URI=127.0.0.1 DMLC_PS_ROOT_PORT=$port DMLC_NODE_HOST=127.0.0.1
# Each role logs to its own file; every role is bounded (warm-ups, 2 operations per size, start-up and a loaded machine),
# and if any role fails the others are ended and its log shown, so a crashed server cannot leave the worker waiting.
logs=$(mktemp -d /tmp/pslite-run.XXXXXX)
limit=$(python3 -c "import sys; print(int(120 + 8 * float(sys.argv[1]) * len(sys.argv[2].split(','))))" "$seconds" "$sizes")
declare -A role_of=()
trap 'for p in "${!role_of[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
for role in scheduler server worker; do
  out=/dev/null; [ $role = worker ] && out=$logs/worker.csv
  DMLC_ROLE=$role timeout "$limit" "$binary" "$seconds" "$sizes" "$keys" "$rounds" >"$out" 2>"$logs/$role.log" &
  role_of[$!]=$role
done
while [ ${#role_of[@]} -gt 0 ]; do
  status=0; wait -n -p done "${!role_of[@]}" || status=$?
  if [ $status -ne 0 ]; then
    echo "run.sh: the ps-lite ${role_of[$done]} failed (exit $status); its log (all logs in $logs):" >&2
    tail -20 "$logs/${role_of[$done]}.log" >&2
    exit 1
  fi
  unset "role_of[$done]"
done
cat "$logs/worker.csv"
rm -rf "$logs"
