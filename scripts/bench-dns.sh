#!/bin/sh
# Benchmark: DNS name lookup latency inside a container (target: median under
# 1 ms), with the timing loop's own cost measured in the same container.
#
# One private daemon (own root, exec root, socket, cgroup parent) runs in a
# network namespace of its own. On a user-defined network, benchnet, a
# container `db` (alias `database`) sleeps; in a client container on the same
# network, scripts/dns-latency.py sends QUERIES A queries (after 200 warm-up),
# one at a time over UDP, to the container's resolver 127.0.0.11:53 (hoist's
# embedded DNS server) for `db`, then for `database`, checks every answer and
# prints the median, p90 and p99; then times as many round trips to a UDP
# echo server it runs in a thread on 127.0.0.1 in the same container, the
# loop's own cost. ROUNDS client containers, one after the other. Only local
# names: nothing is forwarded upstream.
# busybox has no Python: the client runs the host's /usr/bin/python3 through
# the host's loader, with the host's /usr mounted read-only.
# Uses a release build of hoist; removes everything it made (containers,
# daemon, shims, mounts, cgroups, the namespace, files), also when it fails or
# is interrupted. Run as root:
#   cargo build --release && scripts/bench-dns.sh [QUERIES] [ROUNDS]
# QUERIES defaults to 5000, ROUNDS to 3.
set -eu
cd "$(dirname "$0")/.."
queries=${1:-5000}
rounds=${2:-3}
. scripts/bench-lib.sh
bench_requires busybox ip nsenter ldd
python=$(readlink -f /usr/bin/python3) || { echo "/usr/bin/python3 is not installed" >&2; exit 1; }
loader=$(readlink -f "$(ldd "$python" | awk '/ld-linux/ {print $1}')")
case "$loader $python" in /usr/*" "/usr/*) ;; *) echo "python3 or its loader is not under /usr: $loader $python" >&2; exit 1 ;; esac

one_daemon_setup dns
h() { "$hoist" -H "unix://$work/daemon.sock" "$@"; }

netns_add "$netns"
start_daemon "$netns" "$work/daemon" "$work/root" "$work/run" "$netns"
scripts/busybox-rootfs.sh "$work/busybox.tar"
h image import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox:latest >/dev/null
h network create benchnet >/dev/null
h run -d --name db --network benchnet --network-alias database busybox sleep 600 >/dev/null

echo "== DNS lookup latency in a container, $rounds rounds ($(nproc) CPUs, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "db's address on benchnet: $(h inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' db)"
round=1
while [ "$round" -le "$rounds" ]; do
  echo "-- round $round"
  # In the background (run_wait), so that a signal ends it at once.
  run_wait "$hoist" -H "unix://$work/daemon.sock" run --rm --network benchnet \
    -v /usr:/usr:ro -v "$PWD/scripts/dns-latency.py:/dns-latency.py:ro" -e PYTHONHOME=/usr \
    busybox "$loader" "$python" /dns-latency.py -n "$queries" db database
  round=$((round + 1))
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
