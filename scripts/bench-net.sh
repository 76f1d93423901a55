#!/bin/sh
# Benchmark: TCP throughput through hoist's networks, each path as a ratio
# to the host's loopback measured in the same run (targets: >= 0.8 of
# loopback container -> container on one bridge, >= 0.7 through a
# published port).
#
# One private daemon (own root, exec root, socket, cgroup parent) runs in a
# network namespace of its own, the benchmark's "host" (its bridges,
# nftables table and published ports live there, not on the real host).
# Each round streams MIB MiB of zeros (`dd bs=1M | busybox nc`) once over
# each path, one path after the other, a fresh server per stream:
#   loopback   host -> host: 127.0.0.1, both ends in the benchmark's namespace
#   bridge     container -> container on one user-defined bridge network
#              (benchnet, 10.250.0.0/24)
#   pub-lo     host -> container through a published port (-p 5002:5001, on
#              the default bridge), to 127.0.0.1:5002
#   pub-addr   the same, to the host's own address 198.51.100.1 (on a veth
#              pair in the namespace)
# The server counts what it received (`busybox nc -l | dd of=/dev/null`; the
# run fails unless it is the whole stream) and hands the count to the script
# through a fifo; a stream's time runs from the client's start to that
# count, so container start-up is not in it (the client container waits on
# a fifo for its go). Both ends use busybox's nc and dd everywhere. busybox nc moves
# 1 KiB per system call, so this measures a stream of small writes; with
# BENCH_NET_TOOL=socat both ends use the host's socat with 128 KiB buffers
# instead (bind-mounted into the containers with /usr), closer to what a
# bulk transfer does.
# BENCH_NET_PIN=1 pins every path's two ends to two CPUs (taskset on the
# host, --cpuset-cpus for a container): the sender on CPU 0 and the receiver
# on CPU 1 in odd rounds, the other way round in even rounds (the two
# placements give different rates), so that the scheduler's placement, which
# moves loopback's rate by up to 2x from one stream to the next on a 2-vCPU
# VM, is the same for the baseline and for the paths measured against it.
# Prints each round's MB/s per path, then per path the median, the spread and
# the ratio of its median to loopback's.
# Uses a release build of hoist; removes everything it made (containers,
# daemon, shims, mounts, cgroups, the namespace, files), also when it fails or
# is interrupted. Run as root:
#   cargo build --release && [BENCH_NET_TOOL=socat] [BENCH_NET_PIN=1] scripts/bench-net.sh [ROUNDS] [MIB]
# ROUNDS defaults to 5; MIB to 256 with nc, 2048 with socat (1.5-4.5 s per
# stream on a 2-vCPU VM).
set -eu
cd "$(dirname "$0")/.."
tool=${BENCH_NET_TOOL:-nc}
case $tool in
  nc) default_mib=256 ;;
  socat) default_mib=2048 ;;
  *) echo "BENCH_NET_TOOL must be nc or socat" >&2; exit 1 ;;
esac
rounds=${1:-5}
mib=${2:-$default_mib}
. scripts/bench-lib.sh
bench_requires busybox ip nsenter ss nft python3
pin=${BENCH_NET_PIN:-}
[ "$pin" = 1 ] || pin=""
[ -z "$pin" ] || [ "$(nproc)" -ge 2 ] || { echo "BENCH_NET_PIN=1 needs two CPUs" >&2; exit 1; }
send_host="" recv_host="" send_run="" recv_run=""
# place ROUND: with BENCH_NET_PIN=1, the CPUs of the round's senders and receivers.
place() {
  [ "$pin" = 1 ] || return 0
  if [ $(($1 % 2)) = 1 ]; then send=0 recv=1; else send=1 recv=0; fi
  send_host="taskset -c $send" recv_host="taskset -c $recv"
  send_run="--cpuset-cpus $send" recv_run="--cpuset-cpus $recv"
}
[ "$tool" = nc ] || command -v socat >/dev/null || { echo "socat is not installed" >&2; exit 1; }

one_daemon_setup net
sock=$work/daemon.sock
sig=$work/sig # fifos shared with the containers (mounted at /sig)
mkdir "$sig"
mkfifo "$sig/ready" "$sig/go" "$sig/count" "$work/hold"

h() { "$hoist" -H "unix://$sock" "$@"; }
on_host() { nsenter --net="/run/netns/$netns" "$@"; }
fail() {
  echo "bench-net: $*" >&2
  [ ! -s "$work/daemon.log" ] || { echo "daemon log:" >&2; cat "$work/daemon.log" >&2; }
  exit 1
}

# The benchmark's host: a namespace with loopback and one more address,
# 198.51.100.1, on a veth pair (both ends up, in the namespace).
netns_add "$netns"
ip -n "$netns" link add hbench0 type veth peer name hbench1
ip -n "$netns" addr add 198.51.100.1/24 dev hbench0
ip -n "$netns" link set hbench0 up
ip -n "$netns" link set hbench1 up

start_daemon "$netns" "$work/daemon" "$work/root" "$work/run" "$netns"
scripts/busybox-rootfs.sh "$work/busybox.tar"
h image import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox:latest >/dev/null
h network create --subnet 10.250.0.0/24 benchnet >/dev/null

# The stream's two ends, as shell commands that run the same on the host
# and in a container (busybox's applets; socat through the host's loader,
# with /usr mounted in the containers).
stream="busybox dd if=/dev/zero bs=1M count=$mib 2>/dev/null"
# The server's count of what it received, in whole MiB: "MIB+0 records in"
# when the whole stream came (busybox wc -c reads at about 270 MB/s here, too
# slow to count a stream; dd with 1 MiB blocks is several times faster).
count="busybox dd of=/dev/null bs=1M iflag=fullblock 2>&1"
if [ "$tool" = nc ]; then
  run_flags=""
  # The server's stdin must never end: busybox nc half-closes the connection
  # at EOF on stdin, and the client exits when its peer does. A fifo opened
  # read-write (<>) never ends. The server exits when the client's side
  # closes; the client, after its stdin ends, when the server has closed.
  server() { echo "busybox mkfifo $2 2>/dev/null; busybox nc -l -p $1 <>$2 | $count"; }
  client() { echo "$stream | busybox nc $1 $2"; }
else
  loader=$(readlink -f "$(ldd "$(command -v socat)" | awk '/ld-linux/ {print $1}')")
  socat="$loader $(readlink -f "$(command -v socat)")"
  case $socat in /usr/*" "/usr/*) ;; *) fail "socat or its loader is not under /usr: $socat" ;; esac
  run_flags="-v /usr:/usr:ro"
  server() { echo "$socat -u -b 131072 TCP-LISTEN:$1,reuseaddr - | $count"; }
  # Not -u on the client: with -t it waits after its EOF until the server
  # closes, as nc does. A client that exits with its last bytes still in the
  # socket buffer may see its container's network torn down before they
  # leave, and the server then waits forever.
  client() { echo "$stream | $socat -t 600 -b 131072 - TCP:$1:$2"; }
fi

# wait_listen PORT [PID]: until something listens on PORT in the network
# namespace of PID (a container's init), else in the benchmark's host.
wait_listen() {
  i=0
  while :; do
    if [ $# -gt 1 ]; then
      out=$(nsenter -t "$2" -n ss -Hltn "sport = :$1")
    else
      out=$(on_host ss -Hltn "sport = :$1")
    fi
    [ -z "$out" ] || return 0
    i=$((i + 1)); [ $i -lt 400 ] || fail "nothing listens on port $1"; sleep 0.025
  done
}

# server_container NAME PORT NETWORK [RUN FLAGS...]: a server container
# that writes its count to /sig/count at the end; waits until it listens.
server_container() {
  name=$1 port=$2 network=$3
  shift 3
  h run -d --name "$name" --network "$network" -v "$sig:/sig" $run_flags $recv_run "$@" busybox \
    sh -c "n=\$($(server "$port" /tmp/hold)); echo \$n >/sig/count" >/dev/null
  wait_listen "$port" "$(h inspect -f '{{.State.Pid}}' "$name")"
}

# finish PATH T0: reads the server's count (the end of the stream), checks
# it, and records the stream's rate in MB/s (10^6 bytes per second).
finish() {
  run_wait timeout 600 dd if="$sig/count" of="$work/received" status=none ||
    fail "$1: no count from the server"
  t1=$(date +%s%N)
  received=$(cat "$work/received")
  case $received in
    "$mib+0 records in"*) ;;
    *) fail "$1: the server received \"$received\" (1 MiB blocks), not $mib+0" ;;
  esac
  rate=$(awk -v b=$((mib * 1048576)) -v ns=$((t1 - $2)) 'BEGIN {printf "%.1f", b / (ns / 1e9) / 1e6}')
  echo "$round $1 $rate" >>"$work/results"
  printf ' %10s' "$rate"
}

# host_stream PATH ADDRESS PORT: a client on the benchmark's host.
host_stream() {
  t0=$(date +%s%N)
  on_host $send_host sh -c "$(client "$2" "$3")" &
  client_pid=$!
  host_pids="$host_pids $client_pid"
  finish "$1" "$t0"
  wait "$client_pid" || fail "$1: the client failed"
}

srv_ip=10.250.0.10
echo "== TCP throughput, $rounds rounds of $mib MiB per stream ($tool${pin:+, pinned: sender and receiver on CPUs 0 and 1, swapped every round}; $(nproc) CPUs, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%5s %10s %10s %10s %10s   (MB/s)\n' round loopback bridge pub-lo pub-addr
: >"$work/results"
round=1
while [ $round -le "$rounds" ]; do
  printf '%5s' "$round"
  place "$round"

  # loopback: server and client on the host.
  on_host $recv_host sh -c "n=\$($(server 5000 "$work/hold")); echo \$n >$sig/count" &
  server_pid=$!
  host_pids=$server_pid
  wait_listen 5000
  host_stream loopback 127.0.0.1 5000
  wait "$server_pid" || fail "loopback: the server failed"
  host_pids=""

  # bridge: both ends in containers on benchnet. The client signals that it
  # is ready, then waits for the go.
  server_container srv-bridge 5001 benchnet --ip "$srv_ip"
  h run -d --name cli-bridge --network benchnet -v "$sig:/sig" $run_flags $send_run busybox \
    sh -c "echo >/sig/ready; read go </sig/go; $(client "$srv_ip" 5001)" >/dev/null
  run_wait timeout 60 dd if="$sig/ready" of=/dev/null status=none ||
    fail "bridge: the client container did not start"
  t0=$(date +%s%N)
  echo go >"$sig/go"
  finish bridge "$t0"
  [ "$(h wait cli-bridge)" = 0 ] || fail "bridge: the client failed: $(h logs cli-bridge 2>&1)"
  h rm -f srv-bridge cli-bridge >/dev/null

  # pub-lo and pub-addr: a client on the host, the server behind -p.
  for path in pub-lo pub-addr; do
    server_container "srv-$path" 5001 bridge -p 5002:5001
    case $path in pub-lo) addr=127.0.0.1 ;; *) addr=198.51.100.1 ;; esac
    host_stream "$path" "$addr" 5002
    host_pids=""
    h wait "srv-$path" >/dev/null
    h rm -f "srv-$path" >/dev/null
  done
  echo
  round=$((round + 1))
done

python3 - "$work/results" <<'EOF'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    rnd, path, rate = line.split()
    rates.setdefault(path, {})[rnd] = float(rate)
loop = rates["loopback"]
base = statistics.median(loop.values())
targets = {"bridge": 0.8, "pub-lo": 0.7, "pub-addr": 0.7}
print(f"{'path':9} {'median':>8} {'min':>8} {'max':>8}  (MB/s)  ratio to loopback: of the medians; range over the rounds")
for path in ["loopback", "bridge", "pub-lo", "pub-addr"]:
    r = rates[path]
    med = statistics.median(r.values())
    line = f"{path:9} {med:8.1f} {min(r.values()):8.1f} {max(r.values()):8.1f}"
    if path in targets:
        t = targets[path]
        per_round = [r[k] / loop[k] for k in r]
        verdict = "met" if med / base >= t else "not met"
        line += f"          {med / base:.2f}; {min(per_round):.2f}-{max(per_round):.2f} (target >= {t}: {verdict})"
    print(line)
EOF
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
