#!/bin/sh
# Benchmark: the `hoist run --rm` round trip against a floor measured in the
# same run, plus the daemon's idle memory and each shim's memory.
#
#   floor: unshare --pid --fork --mount --uts --ipc --net chroot ROOTFS /bin/true
#   hoist: hoist run --rm --network none busybox true   (CLI → daemon → container → exit → removed)
#
# hoist runs against three private daemons (own roots, sockets, cgroup
# parents) that differ only in where their state lives, because on some
# machines the filesystem, not hoist, decides the result:
#   disk:     --root and --exec-root on the filesystem of $BENCH_DISK_DIR
#             (default /tmp)
#   run-tmpfs: --exec-root on a tmpfs (as /run is on most Linux hosts),
#             --root on the filesystem of $BENCH_DISK_DIR
#   tmpfs:    both on a tmpfs: hoist's own cost, without the disk
# Each daemon runs in a network namespace of its own (`ip netns add`, the
# daemon started under `nsenter --net`), as the tests' daemons do: a daemon
# makes its default bridge (hs0) and replaces the nftables table `inet hoist`
# of its namespace at start, so daemons side by side in one namespace would
# fight over them and leave them on the host. The CLI reaches each daemon
# through its unix socket from anywhere.
# Uses a release build of hoist; removes everything it made (containers,
# daemons, shims, mounts, cgroups, namespaces, files), also when it fails or
# is interrupted. Run as root:
#   cargo build --release && [BENCH_DISK_DIR=DIR] scripts/bench-run.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-100}
hoist=$PWD/target/release/hoist
[ -x "$hoist" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }

disk_dir=${BENCH_DISK_DIR:-/tmp}
work="" state="" ram="" tag="" daemons="" bench_pid=""
# remove_cgroup DIR: kills what is left in a cgroup and removes it, depth
# first (a subshell, so the recursion keeps its own variables).
remove_cgroup() (
  [ -d "$1" ] || exit 0
  for sub in "$1"/*/; do
    [ -d "$sub" ] && remove_cgroup "${sub%/}"
  done
  i=0
  while [ -d "$1" ] && [ $i -lt 50 ]; do
    for p in $(cat "$1/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    [ -f "$1/freezer.state" ] && echo THAWED >"$1/freezer.state" 2>/dev/null
    rmdir "$1" 2>/dev/null || sleep 0.1
    i=$((i + 1))
  done
)
cleanup() {
  set +e
  [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null
  for name in $daemons; do
    sock=$work/$name.sock
    ids=$("$hoist" -H "unix://$sock" ps -aq --no-trunc 2>/dev/null)
    [ -z "$ids" ] || "$hoist" -H "unix://$sock" rm -f $ids >/dev/null 2>&1
    pid=$(cat "$work/$name.pid" 2>/dev/null)
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
      kill -9 "$pid" 2>/dev/null
    fi
  done
  # What a failure may have left: shims, mounts, cgroups, namespaces.
  for dir in "$work" "$ram" "$state"; do
    [ -n "$dir" ] || continue
    for pid in $(pgrep -f "hoist-shim .*$dir/"); do kill -9 "$pid" 2>/dev/null; done
    awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null; done
  done
  for name in $daemons; do
    for d in /sys/fs/cgroup/*/"hoist-bench-$tag-$name" /sys/fs/cgroup/"hoist-bench-$tag-$name"; do
      remove_cgroup "$d"
    done
    ip netns del "hoist-bench-$tag-$name" 2>/dev/null
  done
  for dir in "$work" "$ram" "$state"; do [ -z "$dir" ] || rm -rf "$dir"; done
}
trap cleanup EXIT
# A signal would otherwise end the shell without its EXIT trap.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
work=$(mktemp -d /tmp/hoist-bench-XXXXXX)
state=$(mktemp -d "$disk_dir/hoist-bench-state-XXXXXX")
ram=$(mktemp -d /dev/shm/hoist-bench-XXXXXX)
tag=$(basename "$work" | tr -dc 'a-zA-Z0-9')

scripts/busybox-rootfs.sh "$work/busybox.tar"
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/busybox.tar"

# start_daemon NAME ROOT EXEC_ROOT
# The daemon runs in its own network namespace, hoist-bench-TAG-NAME.
start_daemon() {
  sock=$work/$1.sock
  netns=hoist-bench-$tag-$1
  daemons="$daemons $1"
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  nsenter --net="/run/netns/$netns" "$hoist" daemon --root "$2" --exec-root "$3" --host "unix://$sock" \
    --cgroup-parent "hoist-bench-$tag-$1" --log-level warn >/dev/null 2>"$work/$1.log" </dev/null &
  echo $! >"$work/$1.pid"
  i=0
  until [ -S "$sock" ] && "$hoist" -H "unix://$sock" version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/$1.log"; exit 1; }; sleep 0.05
  done
  "$hoist" -H "unix://$sock" import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox >/dev/null
}
start_daemon disk "$state/disk/root" "$state/disk/run"
start_daemon run-tmpfs "$state/run-tmpfs/root" "$ram/run-tmpfs/run"
start_daemon tmpfs "$ram/tmpfs/root" "$ram/tmpfs/run"

run() { echo "$hoist -H unix://$work/$1.sock run --rm --network none busybox true"; }
echo "== run round trip ($runs runs each, $(nproc) CPUs, $(uname -r))"
echo "filesystem of $disk_dir: $(df --output=fstype "$disk_dir" | tail -1), of /run: $(df --output=fstype /run | tail -1)"
# In the background: a trapped signal interrupts `wait` at once, but the
# shell would run the trap only after a foreground hyperfine had finished.
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/run.json" \
  -n floor "unshare --pid --fork --mount --uts --ipc --net chroot $work/rootfs /bin/true" \
  -n disk "$(run disk)" -n run-tmpfs "$(run run-tmpfs)" -n tmpfs "$(run tmpfs)" >/dev/null &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
python3 - "$work/run.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f = r["floor"]
for name in ["floor", "disk", "run-tmpfs", "tmpfs"]:
    x = r[name]
    ratio = "" if name == "floor" else f"  ratio mean {x['mean']/f['mean']:.2f}x median {x['median']/f['median']:.2f}x (target < 3x)"
    print(f"{name:10} mean {x['mean']*1e3:6.2f} ms  median {x['median']*1e3:6.2f} ms  stddev {x['stddev']*1e3:5.2f} ms{ratio}")
EOF

# What a new file or directory costs on the filesystem of the disk state now:
# hoist makes a dozen per container, the floor none.
python3 - "$state/probe" "$disk_dir" <<'EOF'
import os, sys, time
base = sys.argv[1]
os.mkdir(base)
n = 100
t0 = time.perf_counter()
for i in range(n):
    os.mkdir(f"{base}/d{i}")
t1 = time.perf_counter()
for i in range(n):
    with open(f"{base}/d{i}/f", "w") as f:
        f.write("x")
t2 = time.perf_counter()
print(f"filesystem of {sys.argv[2]}: mkdir {(t1-t0)/n*1e6:.0f} us, create+write {(t2-t1)/n*1e6:.0f} us per file")
EOF

sock=$work/disk.sock
daemon_pid=$(cat "$work/disk.pid")
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
sleep 1
echo "== memory (the disk daemon)"
echo "daemon idle RSS: $(rss_kb "$daemon_pid") kB (target < 30 MB)"
n=10
for i in $(seq $n); do
  "$hoist" -H "unix://$sock" run -d --network none busybox sleep 300 >/dev/null
done
sleep 1
rss=0
pss=0
count=0
for pid in $(pgrep -f "hoist-shim $state/disk/run"); do
  rss=$((rss + $(rss_kb "$pid"))); pss=$((pss + $(pss_kb "$pid"))); count=$((count + 1))
done
echo "shim RSS: $((rss / count)) kB, PSS: $((pss / count)) kB, average over $count shims (target < 2 MB)"
launcher=$(pgrep -f "hoist-shim --launcher $state/disk/run" || true)
[ -z "$launcher" ] || echo "shim launcher (one per daemon) RSS: $(rss_kb "$launcher") kB, PSS: $(pss_kb "$launcher") kB"
echo "daemon RSS with $n containers: $(rss_kb "$daemon_pid") kB"
