#!/bin/sh
# Benchmark: the `hoist run --rm` round trip against a floor measured in the
# same run, plus the daemon's idle memory and each shim's memory.
#
#   floor: unshare --pid --fork --mount --uts --ipc --net chroot ROOTFS /bin/true
#   hoist: hoist run --rm --network none busybox true   (CLI → daemon → container → exit → removed)
#
# Uses a private daemon (its own root, socket and cgroup parent) and a release
# build of hoist; removes everything it made. Run as root:
#   cargo build --release && scripts/bench-run.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-100}
hoist=$PWD/target/release/hoist
[ -x "$hoist" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }

work=$(mktemp -d /tmp/hoist-bench-XXXXXX)
sock=$work/hoist.sock
parent=hoist-bench-$(basename "$work" | tr -dc 'a-zA-Z0-9')
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    ids=$("$hoist" -H "unix://$sock" ps -aq --no-trunc 2>/dev/null || true)
    [ -z "$ids" ] || "$hoist" -H "unix://$sock" rm -f $ids >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  for d in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

scripts/busybox-rootfs.sh "$work/busybox.tar"
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/busybox.tar"

"$hoist" daemon --root "$work/root" --exec-root "$work/run" --host "unix://$sock" \
  --cgroup-parent "$parent" --log-level warn 2>"$work/daemon.log" &
daemon_pid=$!
i=0
until [ -S "$sock" ] && "$hoist" -H "unix://$sock" version >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/daemon.log"; exit 1; }; sleep 0.05
done
"$hoist" -H "unix://$sock" import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox >/dev/null

echo "== run round trip ($runs runs each, $(nproc) CPUs)"
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/run.json" \
  -n floor "unshare --pid --fork --mount --uts --ipc --net chroot $work/rootfs /bin/true" \
  -n hoist "$hoist -H unix://$sock run --rm --network none busybox true"
python3 - "$work/run.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f, h = r["floor"], r["hoist"]
print(f"floor  mean {f['mean']*1e3:7.2f} ms  median {f['median']*1e3:7.2f} ms  stddev {f['stddev']*1e3:5.2f} ms")
print(f"hoist  mean {h['mean']*1e3:7.2f} ms  median {h['median']*1e3:7.2f} ms  stddev {h['stddev']*1e3:5.2f} ms")
print(f"ratio  mean {h['mean']/f['mean']:.2f}x  median {h['median']/f['median']:.2f}x  (target < 3x)")
EOF

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
sleep 1
echo "== memory"
echo "daemon idle RSS: $(rss_kb "$daemon_pid") kB (target < 30 MB)"
n=10
for i in $(seq $n); do
  "$hoist" -H "unix://$sock" run -d --network none busybox sleep 300 >/dev/null
done
sleep 1
rss=0
pss=0
count=0
for pid in $(pgrep -f "hoist-shim $work/run"); do
  rss=$((rss + $(rss_kb "$pid"))); pss=$((pss + $(pss_kb "$pid"))); count=$((count + 1))
done
echo "shim RSS: $((rss / count)) kB, PSS: $((pss / count)) kB, average over $count shims (target < 2 MB)"
launcher=$(pgrep -f "hoist-shim --launcher $work/run" || true)
[ -z "$launcher" ] || echo "shim launcher (one per daemon) RSS: $(rss_kb "$launcher") kB, PSS: $(pss_kb "$launcher") kB"
echo "daemon RSS with $n containers: $(rss_kb "$daemon_pid") kB"
