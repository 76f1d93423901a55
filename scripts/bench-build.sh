#!/bin/sh
# Benchmark: `hoist build` of an unchanged 10-step Dockerfile (target: under
# 100 ms for the whole rebuild), with a daemon round trip (`hoist images -q`)
# measured in the same run as the floor any command pays.
#
# One private daemon (own root, exec root, socket, cgroup parent) in a
# network namespace of its own, busybox imported. The Dockerfile: FROM, ARG,
# ENV, WORKDIR, COPY of a file, COPY of a directory of 200 files, two RUNs,
# LABEL, CMD: ten steps. Built once (every step run), then rebuilt RUNS times
# with hyperfine: every step from the cache, the same image ID each time
# (checked). The image store is under /tmp (this VM's disk), the exec root
# on a tmpfs. Uses a release build of hoist; removes everything it made,
# also when it fails or is interrupted. Run as root:
#   cargo build --release && scripts/bench-build.sh [RUNS]
# RUNS defaults to 20.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-20}
. scripts/bench-lib.sh
bench_requires busybox ip nsenter hyperfine

one_daemon_setup build
h() { "$hoist" -H "unix://$work/daemon.sock" "$@"; }

# The exec root on a tmpfs, as /run is on most hosts (README, Daemon): the
# context is unpacked there for each build.
mkdir -p "$work/run" && mount -t tmpfs -o size=512m hoist-bench "$work/run"
netns_add "$netns"
start_daemon "$netns" "$work/daemon" "$work/root" "$work/run" "$netns"
scripts/busybox-rootfs.sh "$work/busybox.tar"
h image import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox:latest >/dev/null

ctx=$work/ctx
mkdir -p "$ctx/files"
i=0
while [ $i -lt 200 ]; do echo "file $i" >"$ctx/files/f$i.txt"; i=$((i + 1)); done
echo "hello" >"$ctx/app.txt"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox
ARG VERSION=1
ENV APP_VERSION=$VERSION
WORKDIR /app
COPY app.txt .
COPY files/ ./files/
RUN cat app.txt > copied.txt
RUN ls files | wc -l > count.txt
LABEL version=$VERSION
CMD ["cat", "/app/copied.txt"]
DOCKERFILE
h build -q -t bench:1 "$ctx" >"$work/first.id"
echo "== rebuild of an unchanged 10-step Dockerfile ($(nproc) CPUs, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "first build: $(cat "$work/first.id")"
run_wait hyperfine --runs "$runs" --warmup 2 --export-markdown "$work/result.md" \
  --command-name "hoist images -q (round trip)" "$hoist -H unix://$work/daemon.sock images -q" \
  --command-name "hoist build (all cached)" "$hoist -H unix://$work/daemon.sock build -q -t bench:1 $ctx"
h build -q -t bench:1 "$ctx" >"$work/again.id"
if cmp -s "$work/first.id" "$work/again.id"; then
  echo "same image ID after the rebuilds: $(cat "$work/again.id")"
else
  echo "the rebuild gave another image ID: $(cat "$work/again.id")" >&2
  exit 1
fi
cat "$work/result.md"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
