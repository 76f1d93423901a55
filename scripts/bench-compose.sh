#!/bin/sh
# Benchmark: `hoist compose up -d` of a 20-service project (busybox, each
# `sleep`) from nothing to all running, and `hoist compose down` from all
# running to nothing. Target: each under 1 s on our 2-core machines.
#
# Measured with hyperfine, each run prepared by hyperfine's --prepare so it
# starts from the right state:
#   up:        compose up -d          (prepared by compose down: nothing there)
#   down:      compose down           (prepared by compose up -d: all running)
# and, in the same run, so the numbers can be read against the machine:
#   run x20:   20 x `hoist run -d --network benchnet --init busybox sleep`,
#              one after the other (prepared by removing them)
#   rm x20:    one `hoist rm -f` of those 20 (prepared by starting them)
#   run --rm:  one `hoist run --rm busybox true` round trip
# The project's services are `sleep 86400` with `init: true`: a plain
# `sleep` as PID 1 ignores SIGTERM (as it would under Docker), so `down`
# would wait out the 10 s stop timeout; with an init, SIGTERM ends it.
# `up -d` returns once every container is started; the script checks after
# the run that 20 are running.
#
# One private daemon (own root, exec root, socket, cgroup parent) in a
# network namespace of its own, busybox imported. The exec root is a tmpfs
# (as /run is on most hosts); the root (container layers, records) is under
# /tmp, or on a tmpfs too with BENCH_TMPFS_ROOT=1. Uses a release build of
# hoist ($CARGO_TARGET_DIR if set); removes everything it made, also when
# it fails or is interrupted. Run as root:
#   cargo build --release && scripts/bench-compose.sh [RUNS] [SERVICES]
# RUNS defaults to 10, SERVICES to 20.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-10}
services=${2:-20}
. scripts/bench-lib.sh
bench_requires busybox ip nsenter hyperfine python3

one_daemon_setup compose
mkdir -p "$work/run" "$work/root"
mount -t tmpfs -o size=512m hoist-bench "$work/run"
[ "${BENCH_TMPFS_ROOT:-0}" = 0 ] || mount -t tmpfs -o size=1g hoist-bench "$work/root"
netns_add "$netns"
start_daemon "$netns" "$work/daemon" "$work/root" "$work/run" "$netns"
sock=unix://$work/daemon.sock
h() { "$hoist" -H "$sock" "$@"; }
scripts/busybox-rootfs.sh "$work/busybox.tar"
h image import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox:latest >/dev/null
h network create benchnet >/dev/null

# The project: SERVICES services, each a busybox `sleep`.
project=$work/project
mkdir -p "$project"
{
  echo "name: bench"
  echo "services:"
  i=1
  while [ "$i" -le "$services" ]; do
    printf '  s%02d:\n    image: busybox\n    command: ["sleep", "86400"]\n    init: true\n' "$i"
    i=$((i + 1))
  done
} >"$project/compose.yaml"
compose="$hoist -H $sock compose -f $project/compose.yaml"

# The baselines' scripts: SERVICES containers started one after the other,
# and all of them removed at once.
cat >"$work/run-n.sh" <<EOF
#!/bin/sh
set -e
i=1
while [ \$i -le $services ]; do
  "$hoist" -H "$sock" run -d --network benchnet --init --label bench=run busybox sleep 86400 >/dev/null
  i=\$((i + 1))
done
EOF
cat >"$work/rm-n.sh" <<EOF
#!/bin/sh
ids=\$("$hoist" -H "$sock" ps -aq --filter label=bench=run)
[ -z "\$ids" ] || "$hoist" -H "$sock" rm -f \$ids >/dev/null
EOF
chmod +x "$work/run-n.sh" "$work/rm-n.sh"

# The state each measured command starts from.
nothing="$compose down"
all_running="$compose up -d"

echo "== compose up -d / down of $services services ($runs runs each, $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "root on $(df --output=fstype "$work/root" | tail -1), exec root on $(df --output=fstype "$work/run" | tail -1)"
# In the background (run_wait), so that a signal ends it at once.
run_wait hyperfine -N --runs "$runs" --warmup 1 --export-json "$work/result.json" \
  --prepare "$nothing" -n "compose up -d" "$compose up -d" \
  --prepare "$all_running" -n "compose down" "$compose down" \
  --prepare "$work/rm-n.sh" -n "run -d x$services" "$work/run-n.sh" \
  --prepare "$work/run-n.sh" -n "rm -f x$services" "$work/rm-n.sh" \
  --prepare "$nothing" -n "run --rm true" "$hoist -H $sock run --rm busybox true" >/dev/null

# The end states are what they should be.
$compose up -d >/dev/null 2>&1
running=$(h ps -q --filter label=com.docker.compose.project=bench | wc -l)
[ "$running" -eq "$services" ] || { echo "after up -d, $running of $services containers run" >&2; exit 1; }
$compose down >/dev/null 2>&1
left=$(h ps -aq | wc -l)
[ "$left" -eq 0 ] || { echo "after down, $left containers are left" >&2; exit 1; }

python3 - "$work/result.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:16} mean {r['mean']*1e3:7.1f} ms  ± {r['stddev']*1e3:5.1f}  "
          f"median {r['median']*1e3:7.1f}  min {r['min']*1e3:7.1f}  max {r['max']*1e3:7.1f}")
EOF

# Where the time goes: the progress lines of 5 more `up -d` and `down`,
# each stamped when it reaches us; medians of the moments each phase ended.
python3 - "$hoist" "$sock" "$project/compose.yaml" <<'EOF'
import statistics, subprocess, sys, time
hoist, sock, file = sys.argv[1:]
def timeline(args):
    start = time.perf_counter()
    child = subprocess.Popen([hoist, "-H", sock, "compose", "-f", file] + args,
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = [((time.perf_counter() - start) * 1e3, line.split()) for line in child.stderr]
    if child.wait() != 0:
        sys.exit(f"compose {' '.join(args)} failed")
    return lines, (time.perf_counter() - start) * 1e3
def last(kind, status):
    return lambda lines: max(t for t, w in lines if w[0] == kind and w[-1] == status)
first = ("first line (CLI started, project loaded, containers listed)", lambda lines: lines[0][0])
phases = {
    "up -d": [first, ("network created", last("Network", "Created")),
              ("every container created", last("Container", "Created")),
              ("every container started", last("Container", "Started"))],
    "down": [first, ("every container stopped", last("Container", "Stopped")),
             ("every container removed", last("Container", "Removed")),
             ("network removed", last("Network", "Removed"))],
}
runs = {"up -d": [], "down": []}
for _ in range(5):
    for command in runs:
        runs[command].append(timeline(command.split()))
for command, timelines in runs.items():
    print(f"-- compose {command}: medians of 5 runs, ms since the CLI was started")
    for name, moment in phases[command]:
        print(f"   {statistics.median(moment(lines) for lines, _ in timelines):7.1f}  {name}")
    print(f"   {statistics.median(total for _, total in timelines):7.1f}  exit")
EOF
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
