# Pieces shared by the benchmark scripts (bench-run.sh, bench-net.sh,
# bench-dns.sh): private daemons in network namespaces of their own, and a
# cleanup that removes what they made, also after a failure or a signal.
# POSIX sh; sourced from the repository's root: `. scripts/bench-lib.sh`.
# The caller calls bench_requires (which sets `hoist`, the binary) before
# start_daemon or stop_daemon. A daemon is named by a path PREFIX: its socket is PREFIX.sock,
# its log PREFIX.log, its pid in PREFIX.pid. A script with one daemon uses
# one_daemon_setup: the daemon is $work/daemon, all its state under $work,
# its namespace and cgroup parent $netns (hoist-bench-KIND-TAG).
# Long commands run through run_wait, in the background: a trapped signal
# interrupts `wait` at once, but the shell would run the trap only after a
# foreground command had ended (hyperfine's whole run, a reader blocked on a
# fifo); the cleanup kills $wait_pid.

# bench_requires CMD...: sets $hoist to the release build ($CARGO_TARGET_DIR/release/hoist when
# CARGO_TARGET_DIR is set, else target/release/hoist); exits with a hint if it or a CMD is missing.
bench_requires() {
  case ${CARGO_TARGET_DIR:-} in
    "") hoist=$PWD/target/release/hoist ;;
    /*) hoist=$CARGO_TARGET_DIR/release/hoist ;;
    *) hoist=$PWD/$CARGO_TARGET_DIR/release/hoist ;;
  esac
  [ -x "$hoist" ] || { echo "build first: cargo build --release" >&2; exit 1; }
  for required in "$@"; do
    command -v "$required" >/dev/null || { echo "$required is not installed (scripts/packages.sh)" >&2; exit 1; }
  done
}

# bench_traps CLEANUP: runs CLEANUP at exit; HUP, INT, PIPE and TERM exit the shell (so that it runs).
bench_traps() {
  trap "$1" EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 141' PIPE
  trap 'exit 143' TERM
}

# run_wait COMMAND...: runs COMMAND in the background, its pid in $wait_pid, and returns its status.
run_wait() {
  "$@" &
  wait_pid=$!
  wait_status=0
  wait "$wait_pid" || wait_status=$?
  wait_pid=""
  return $wait_status
}

# netns_add NAME: makes the network namespace NAME, its loopback up.
netns_add() {
  ip netns add "$1"
  ip -n "$1" link set lo up
}

# netns_del NAME: kills what still runs in network namespace NAME, then deletes it (links, nftables).
netns_del() {
  [ -n "$1" ] || return 0
  for netns_pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$netns_pid" 2>/dev/null; done
  ip netns del "$1" 2>/dev/null
}

# start_daemon NETNS PREFIX ROOT EXEC_ROOT CGROUP_PARENT [DAEMON_ARG...]: starts a daemon in NETNS, waits until it answers.
start_daemon() {
  start_netns=$1 start_prefix=$2 start_root=$3 start_exec_root=$4 start_cgroup=$5
  shift 5
  nsenter --net="/run/netns/$start_netns" "$hoist" daemon --root "$start_root" --exec-root "$start_exec_root" \
    --host "unix://$start_prefix.sock" --cgroup-parent "$start_cgroup" --log-level warn "$@" \
    >/dev/null 2>"$start_prefix.log" </dev/null &
  set -- "$start_netns" "$start_prefix"
  echo $! >"$2.pid"
  start_i=0
  until [ -S "$2.sock" ] && "$hoist" -H "unix://$2.sock" version >/dev/null 2>&1; do
    start_i=$((start_i + 1))
    [ $start_i -lt 200 ] || { echo "the daemon $2 did not come up; its log:" >&2; cat "$2.log" >&2; exit 1; }
    sleep 0.05
  done
}

# stop_daemon PREFIX [NETWORK...]: removes its containers and NETWORKs, stops it (TERM, 5 s, KILL).
stop_daemon() (
  set +e
  pid=$(cat "$1.pid" 2>/dev/null)
  [ -n "$pid" ] || exit 0
  sock=unix://$1.sock
  shift
  ids=$("$hoist" -H "$sock" ps -aq --no-trunc 2>/dev/null)
  [ -z "$ids" ] || "$hoist" -H "$sock" rm -f $ids >/dev/null 2>&1
  for network in "$@"; do "$hoist" -H "$sock" network rm "$network" >/dev/null 2>&1; done
  kill "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  kill -9 "$pid" 2>/dev/null
)

# sweep_dirs DIR...: kills the shims and unmounts (lazily) what a failure left under each DIR.
sweep_dirs() {
  for sweep_dir in "$@"; do
    case $sweep_dir in "" | /) continue ;; esac
    for sweep_pid in $(pgrep -f "hoist-shim .*$sweep_dir/"); do kill -9 "$sweep_pid" 2>/dev/null; done
    awk -v d="$sweep_dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null; done
  done
}

# remove_cgroup DIR: kills what is left in a cgroup and removes it, depth first (in a subshell).
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

# remove_cgroups NAME: remove_cgroup on cgroup parent NAME in every v1 hierarchy and at the v2 root.
remove_cgroups() {
  [ -n "$1" ] || return 0
  for cgroup_dir in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
    remove_cgroup "$cgroup_dir"
  done
}

# one_daemon_setup KIND: traps one_daemon_cleanup, makes $work (/tmp/hoist-bench-KIND-*), sets $tag, $netns.
one_daemon_setup() {
  work="" tag="" netns="" wait_pid="" host_pids=""
  bench_traps one_daemon_cleanup
  work=$(mktemp -d "/tmp/hoist-bench-$1-XXXXXX")
  tag=$(basename "$work" | sed "s/^hoist-bench-$1-//" | tr -dc 'a-zA-Z0-9')
  netns=hoist-bench-$1-$tag
}

# one_daemon_cleanup: kills $host_pids, $wait_pid; stop_daemon, sweep_dirs, cgroups, namespace; rm $work.
one_daemon_cleanup() {
  set +e
  for cleanup_pid in $host_pids $wait_pid; do kill "$cleanup_pid" 2>/dev/null; done
  [ -n "$work" ] || return
  stop_daemon "$work/daemon" benchnet
  sweep_dirs "$work"
  remove_cgroups "$netns"
  netns_del "$netns"
  rm -rf "$work"
}
