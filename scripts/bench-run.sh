#!/bin/sh
# Benchmark: the `hoist run --rm` round trip against a floor measured in the
# same run, plus the daemon's idle memory and each shim's memory.
#
#   floor: unshare --pid --fork --mount --uts --ipc --net chroot ROOTFS /bin/true
#   hoist: hoist run --rm --network none busybox true   (CLI → daemon → container → exit → removed)
#   bridge-*: hoist run --rm busybox true   (the default bridge: also a veth
#             pair and an address, no DNS)
#   net-*:    hoist run --rm --network benchnet busybox true   (a user-defined
#             network, made once per daemon: also the embedded DNS resolver)
# Targets: under 3x the floor with --network none, under 10x with a bridge.
# Memory: the daemon's RSS idle, and RSS, PSS and USS (private pages) of each
# shim beside the host's /bin/sleep as a reference measured in the same run.
#
# hoist runs against three private daemons (own roots, sockets, cgroup
# parents) that differ only in where their state lives, because on some
# machines the filesystem, not hoist, decides the result:
#   disk:     --root and --exec-root on the filesystem of $BENCH_DISK_DIR
#             (default /tmp)
#   run-tmpfs: --exec-root on a tmpfs (as /run is on most Linux hosts),
#             --root on the filesystem of $BENCH_DISK_DIR
#   tmpfs:    both on a tmpfs: hoist's own cost, without the disk
# BENCH_DISK_IMAGE=1 puts the disk state on a fresh ext4 with a journal (a 2
# GiB image in $BENCH_DISK_DIR, loop-mounted without `discard`), as the
# /var/lib of most hosts is: some machines' own filesystem is unlike it (this
# project's VMs mount an ext4 without a journal and with `discard`, where
# each new inode makes ext4 scan for recently deleted ones and each freed
# block is a synchronous discard).
# The bridge and user-network commands run against the disk and tmpfs daemons
# only (two more commands each, not three: a shorter run, and less churn on
# the disk).
# Each daemon runs in a network namespace of its own (`ip netns add`, the
# daemon started under `nsenter --net`), as the tests' daemons do: a daemon
# makes its default bridge (hs0) and replaces the nftables table `inet hoist`
# of its namespace at start, so daemons side by side in one namespace would
# fight over them and leave them on the host. The CLI reaches each daemon
# through its unix socket from anywhere.
# Uses a release build of hoist; removes everything it made (containers,
# daemons, shims, mounts, cgroups, namespaces, files), also when it fails or
# is interrupted. Run as root:
#   cargo build --release && [BENCH_DISK_DIR=DIR] [BENCH_DISK_IMAGE=1] [BENCH_RUN_ROUNDS=R] scripts/bench-run.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-100}
. scripts/bench-lib.sh
bench_requires hyperfine

disk_dir=${BENCH_DISK_DIR:-/tmp}
work="" state="" ram="" tag="" daemons="" wait_pid="" sleepers="" image=""
cleanup() {
  set +e
  for pid in $wait_pid $sleepers; do kill "$pid" 2>/dev/null; done
  for name in $daemons; do stop_daemon "$work/$name" benchnet; done
  # What a failure may have left: shims, mounts, cgroups, namespaces.
  sweep_dirs "$work" "$ram" "$state"
  for name in $daemons; do
    remove_cgroups "hoist-bench-$tag-$name"
    netns_del "hoist-bench-$tag-$name"
  done
  if [ -n "$image" ]; then
    umount "$state" 2>/dev/null
    rm -f "$image"
  fi
  for dir in "$work" "$ram" "$state"; do [ -z "$dir" ] || rm -rf "$dir"; done
}
bench_traps cleanup
work=$(mktemp -d /tmp/hoist-bench-XXXXXX)
state=$(mktemp -d "$disk_dir/hoist-bench-state-XXXXXX")
if [ "${BENCH_DISK_IMAGE:-}" = 1 ]; then
  image=$state.img
  truncate -s 2G "$image"
  mkfs.ext4 -q -F -O has_journal "$image"
  mount -o loop "$image" "$state"
fi
ram=$(mktemp -d /dev/shm/hoist-bench-XXXXXX)
tag=$(basename "$work" | tr -dc 'a-zA-Z0-9')

scripts/busybox-rootfs.sh "$work/busybox.tar"
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/busybox.tar"

# add_daemon NAME ROOT EXEC_ROOT: a private daemon in a network namespace of its
# own, hoist-bench-TAG-NAME, with busybox imported and the network benchnet.
add_daemon() {
  daemons="$daemons $1"
  netns_add "hoist-bench-$tag-$1"
  start_daemon "hoist-bench-$tag-$1" "$work/$1" "$2" "$3" "hoist-bench-$tag-$1"
  "$hoist" -H "unix://$work/$1.sock" import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox >/dev/null
  "$hoist" -H "unix://$work/$1.sock" network create benchnet >/dev/null
}
add_daemon disk "$state/disk/root" "$state/disk/run"
add_daemon run-tmpfs "$state/run-tmpfs/root" "$ram/run-tmpfs/run"
add_daemon tmpfs "$ram/tmpfs/root" "$ram/tmpfs/run"

# run DAEMON [RUN FLAGS...]: the measured command against DAEMON.
run() { d=$1; shift; echo "$hoist -H unix://$work/$d.sock run --rm $* busybox true"; }
echo "== run round trip ($runs runs each, $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "filesystem of the disk state: $(df --output=fstype "$state" | tail -1)${image:+ with a journal, loop-mounted from $image}, of /run: $(df --output=fstype /run | tail -1)"
# In the background (run_wait), so that a signal ends it at once.
run_wait hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/run.json" \
  -n floor "unshare --pid --fork --mount --uts --ipc --net chroot $work/rootfs /bin/true" \
  -n disk "$(run disk --network none)" -n run-tmpfs "$(run run-tmpfs --network none)" \
  -n tmpfs "$(run tmpfs --network none)" \
  -n bridge-disk "$(run disk)" -n bridge-tmpfs "$(run tmpfs)" \
  -n net-disk "$(run disk --network benchnet)" -n net-tmpfs "$(run tmpfs --network benchnet)" >/dev/null
python3 - "$work/run.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f = r["floor"]
for name in ["floor", "disk", "run-tmpfs", "tmpfs", "bridge-disk", "bridge-tmpfs", "net-disk", "net-tmpfs"]:
    x = r[name]
    target = 3 if name in ("disk", "run-tmpfs", "tmpfs") else 10
    ratio = "" if name == "floor" else f"  ratio mean {x['mean']/f['mean']:.2f}x median {x['median']/f['median']:.2f}x (target < {target}x)"
    print(f"{name:12} mean {x['mean']*1e3:6.2f} ms  median {x['median']*1e3:6.2f} ms  stddev {x['stddev']*1e3:5.2f} ms{ratio}")
EOF
echo "load after the round trips: $(cut -d' ' -f1-3 /proc/loadavg)"

# BENCH_RUN_ROUNDS=R: the --network none row again on the tmpfs daemon, as R
# short rounds of the floor and hoist side by side (20 runs each, the order
# swapped every round), each round's ratio of medians reported: how far the
# ratio moves with the machine within one run, where the long blocks above
# give one ratio per run.
rounds=${BENCH_RUN_ROUNDS:-0}
if [ "$rounds" -gt 0 ]; then
  floor_cmd="unshare --pid --fork --mount --uts --ipc --net chroot $work/rootfs /bin/true"
  hoist_cmd="$(run tmpfs --network none)"
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then
      run_wait hyperfine -N --warmup 3 --runs 20 --export-json "$work/round-$round.json" \
        -n floor "$floor_cmd" -n tmpfs "$hoist_cmd" >/dev/null
    else
      run_wait hyperfine -N --warmup 3 --runs 20 --export-json "$work/round-$round.json" \
        -n tmpfs "$hoist_cmd" -n floor "$floor_cmd" >/dev/null
    fi
  done
  python3 - "$work" "$rounds" <<'EOF'
import json, statistics, sys
ratios = []
for i in range(1, int(sys.argv[2]) + 1):
    r = {x["command"]: x for x in json.load(open(f"{sys.argv[1]}/round-{i}.json"))["results"]}
    ratios.append(r["tmpfs"]["median"] / r["floor"]["median"])
    print(f"round {i:2}: floor {r['floor']['median']*1e3:5.2f} ms  tmpfs {r['tmpfs']['median']*1e3:5.2f} ms  ratio {ratios[-1]:.2f}x")
print(f"tmpfs --network none over {len(ratios)} rounds: median ratio {statistics.median(ratios):.2f}x, "
      f"range {min(ratios):.2f}x-{max(ratios):.2f}x, {sum(r < 3 for r in ratios)} of {len(ratios)} rounds under 3x")
EOF
fi

# What a new file or directory costs on the filesystem of the disk state now:
# hoist makes a dozen per container, the floor none.
python3 - "$state/probe" "the disk state" <<'EOF'
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
# USS: the pages only this process maps, what it alone adds to the host.
uss_kb() { awk '/^Private_(Clean|Dirty):/ {kb += $2} END {print kb}' "/proc/$1/smaps_rollup"; }
# mem_avg PID...: "RSS r kB, PSS p kB, USS u kB" averaged over the PIDs.
mem_avg() {
  rss=0 pss=0 uss=0
  for pid in "$@"; do
    rss=$((rss + $(rss_kb "$pid"))); pss=$((pss + $(pss_kb "$pid"))); uss=$((uss + $(uss_kb "$pid")))
  done
  echo "RSS $((rss / $#)) kB, PSS $((pss / $#)) kB, USS $((uss / $#)) kB"
}
sleep 1
echo "== memory (the disk daemon)"
echo "daemon idle RSS: $(rss_kb "$daemon_pid") kB (target < 30 MB)"
n=10
for i in $(seq $n); do
  "$hoist" -H "unix://$sock" run -d --network none busybox sleep 300 >/dev/null
done
# The reference, in the same run: as many of the host's own /bin/sleep (C,
# glibc, dynamically linked like the shim), the smallest process there is.
sleepers=""
for i in $(seq $n); do
  sleep 300 &
  sleepers="$sleepers $!"
done
sleep 1
shims=$(pgrep -f "hoist-shim $state/disk/run" | tr '\n' ' ')
echo "shim: $(mem_avg $shims), average over $(echo $shims | wc -w) shims (target < 2 MB)"
echo "reference /bin/sleep: $(mem_avg $sleepers), average over $n"
launcher=$(pgrep -f "hoist-shim --launcher $state/disk/run" || true)
[ -z "$launcher" ] || echo "shim launcher (one per daemon): $(mem_avg "$launcher")"
echo "daemon RSS with $n containers: $(rss_kb "$daemon_pid") kB"
