#!/usr/bin/env bash
# Container smoke test: builds the CPU image (docker/Dockerfile) with podman from a locally made Debian base and runs one
# `gpups server` and two `gpups worker`s from it, on host networking, for a few steps; then checks that every container
# exited 0, that the server answered its gRPC health check, and that `gpups evaluate` in the image reads the exported model.
#
#   sudo docker/smoke.sh                      # needs root (rootful podman), podman, runc, debootstrap, the .NET 10 SDK
#
# Setup on Debian 12: apt-get install -y podman buildah runc debootstrap. The base (debootstrap --variant=minbase
# bookworm plus the libraries a self-contained .NET app and its plots need, ~270 MB) is made once and cached in
# $GPUPS_SMOKE_CACHE (default /var/cache/gpups); later runs reuse it. podman runs with runc and explicit ulimits
# (crun fails on some hosts' cgroup setups) through a containers.conf of its own in that folder; the host's
# configuration is not touched.
# Exit codes: 0 pass, 1 fail, 77 skipped (a prerequisite is missing; the reason is printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GPUPS_SMOKE_CACHE:-/var/cache/gpups}
MIRROR=${GPUPS_SMOKE_MIRROR:-http://deb.debian.org/debian}
STEPS=${GPUPS_SMOKE_STEPS:-20}
BASE=localhost/gpups-base:bookworm
IMAGE=localhost/gpups:cpu-smoke
PREFIX=gpups-smoke-$$

say() { echo "smoke: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (rootful podman with host networking)"
for tool in podman runc dotnet; do command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install -y podman buildah runc debootstrap; .NET 10 SDK)"; done
mkdir -p "$CACHE"
cat > "$CACHE/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$CACHE/containers.conf"
podman info >/dev/null 2>&1 || skip "podman cannot run here: $(podman info 2>&1 | tail -1)"

WORK=$(mktemp -d /tmp/gpups-smoke.XXXXXX)
cleanup() {
    podman rm -f "$PREFIX-server" "$PREFIX-worker-0" "$PREFIX-worker-1" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
start=$(date +%s)

# 1. The base image, from a cached debootstrap tarball.
TARBALL="$CACHE/bookworm-minbase.tar"
if [ ! -f "$TARBALL" ]; then
    command -v debootstrap >/dev/null || skip "debootstrap is not installed and no cached base is in $TARBALL"
    say "making the base with debootstrap (once; cached in $TARBALL)"
    rm -rf "$CACHE/rootfs.tmp"
    debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,zlib1g,libstdc++6,libfontconfig1,fonts-dejavu-core \
        bookworm "$CACHE/rootfs.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || fail "debootstrap failed, see $CACHE/debootstrap.log"
    tar -C "$CACHE/rootfs.tmp" -cf "$TARBALL.partial" . && mv "$TARBALL.partial" "$TARBALL" && rm -rf "$CACHE/rootfs.tmp"
fi
podman image exists "$BASE" || { say "importing $TARBALL as $BASE"; podman import "$TARBALL" "$BASE" >/dev/null; }

# 2. gpups, self-contained, into the build context; then the image.
say "publishing gpups (self-contained linux-x64)"
dotnet publish "$ROOT/src/Cli/GpuPs.Cli.csproj" -c Release -r linux-x64 --self-contained -o "$WORK/app" >"$WORK/publish.log" 2>&1 \
    || { tail -20 "$WORK/publish.log"; fail "dotnet publish failed"; }
say "building $IMAGE from $BASE"
podman build --format docker -f "$ROOT/docker/Dockerfile" --build-arg APP=prebuilt --build-arg RUNTIME_IMAGE="$BASE" -t "$IMAGE" "$WORK" \
    >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; fail "podman build failed"; }
[ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = app ] || fail "the image does not run as the user app"

# 3. One server and two workers, on host networking, sharing a job token and a results folder.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 15731)
mkdir -p "$WORK/job/results" && chmod 0777 "$WORK/job/results"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/job/job.token" && chmod 0644 "$WORK/job/job.token"
run() { podman run -d --network host -v "$WORK/job:/job" "$@"; }
say "starting the server on port $port"
# The check is run by hand below: no periodic timer (podman schedules those through systemd, which a build host may lack).
run --name "$PREFIX-server" --health-cmd "/app/gpups health --server http://127.0.0.1:$port" --health-interval disable "$IMAGE" \
    server --workers 2 --servers 1 --steps "$STEPS" --urls "http://127.0.0.1:$port" --token-file /job/job.token \
    --output /job/results/model.safetensors --linger-ms 1000 >/dev/null
listening() { podman logs "$PREFIX-server" >"$WORK/server.log" 2>&1; grep -q "listening on" "$WORK/server.log"; }
for _ in $(seq 1 120); do listening && break; sleep 0.5; done
listening || { tail -20 "$WORK/server.log"; fail "the server never listened"; }
podman healthcheck run "$PREFIX-server" >/dev/null || fail "the server's health check did not pass"
say "server healthy (grpc.health.v1 SERVING); starting two workers"
for i in 0 1; do
    run --name "$PREFIX-worker-$i" --no-healthcheck "$IMAGE" worker --server "http://127.0.0.1:$port" --token-file /job/job.token --accelerator simd >/dev/null
done

# 4. Every container ends on its own with exit code 0.
for name in worker-0 worker-1 server; do
    code=$(timeout 300 podman wait "$PREFIX-$name") || fail "$name did not finish within 300 s"
    [ "$code" = 0 ] || { podman logs "$PREFIX-$name" 2>&1 | tail -20; fail "$name exited $code"; }
done
say "server and both workers exited 0"
podman logs "$PREFIX-server" >"$WORK/server.log" 2>&1; grep -E "finished|wrote" "$WORK/server.log" | tail -3 || true

# 5. The exported model, evaluated by the image itself.
[ -s "$WORK/job/results/model.safetensors" ] || fail "the server wrote no model"
evaluation=$(podman run --rm --no-healthcheck --network none -v "$WORK/job:/job" "$IMAGE" evaluate /job/results/model.safetensors --json) || fail "evaluate failed"
echo "$evaluation"
accuracy=$(echo "$evaluation" | python3 -c 'import json, sys; print(json.load(sys.stdin)["test"]["accuracy"])')
say "PASS in $(( $(date +%s) - start )) s: image $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes), $STEPS steps, test accuracy $accuracy"
