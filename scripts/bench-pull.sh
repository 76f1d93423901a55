#!/bin/sh
# Benchmark: `hoist pull` of a multi-layer image (tens of MB, gzip layers)
# from a local registry, against `skopeo copy docker://… oci:…` of the same
# image in the same run (target: hoist no slower than skopeo).
#
# One private daemon (own root, exec root, socket, cgroup parent) runs in a
# network namespace of its own, with Debian's docker-registry on 127.0.0.1:5000
# in the same namespace. The image: busybox, a copy of the host's Python
# standard library (/usr/lib/python3.11 or the first /usr/lib/python3.*: real
# files), and 8 MB of random bytes; pushed with skopeo, gzip-compressed. Each
# timed hoist run starts from an empty image store (the image and busybox
# removed, so every layer is fetched, verified and unpacked); each skopeo run
# writes a fresh OCI layout (fetched and verified, not unpacked: skopeo's
# job is smaller). hyperfine alternates nothing: it runs one command's rounds,
# then the other's; the two are compared by their means.
# Both write to the same filesystem: a tmpfs the script mounts, or the
# directory BENCH_DISK_DIR names (this VM's journal-less root ext4 spends
# most of an unpack in ext4's recently_deleted() once files churn: see
# BENCHMARKS.md, issue 2's disk rows).
# Uses a release build of hoist; removes everything it made (registry,
# daemon, mounts, cgroups, the namespace, files), also when it fails or is
# interrupted. Run as root:
#   cargo build --release && scripts/bench-pull.sh [RUNS]
# RUNS defaults to 10.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-10}
. scripts/bench-lib.sh
bench_requires busybox ip nsenter skopeo docker-registry hyperfine
python_lib=$(ls -d /usr/lib/python3.[0-9]* 2>/dev/null | head -n 1)
[ -n "$python_lib" ] || { echo "no /usr/lib/python3.* to build the image from" >&2; exit 1; }

one_daemon_setup pull
state=""
pull_cleanup() {
  one_daemon_cleanup
  case $state in "${BENCH_DISK_DIR:-/nonexistent}"/hoist-bench-pull-*) rm -rf "$state" ;; esac
}
bench_traps pull_cleanup
h() { "$hoist" -H "unix://$work/daemon.sock" "$@"; }
in_ns() { nsenter --net="/run/netns/$netns" "$@"; }

if [ -n "${BENCH_DISK_DIR:-}" ]; then
  state=$(mktemp -d "$BENCH_DISK_DIR/hoist-bench-pull-XXXXXX")
  state_kind="disk ($(df --output=fstype "$state" | tail -n 1) at $BENCH_DISK_DIR)"
else
  state=$work/state
  mkdir -p "$state" && mount -t tmpfs -o size=2g hoist-bench "$state"
  state_kind=tmpfs
fi
netns_add "$netns"
start_daemon "$netns" "$work/daemon" "$state/root" "$work/run" "$netns" --insecure-registry 127.0.0.1:5000
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:5000}
EOF
in_ns docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
host_pids=$!
wait_i=0
until in_ns busybox wget -q -O /dev/null http://127.0.0.1:5000/v2/ 2>/dev/null; do
  wait_i=$((wait_i + 1))
  [ $wait_i -lt 100 ] || { echo "the registry did not come up; its log:" >&2; cat "$work/registry.log" >&2; exit 1; }
  sleep 0.1
done

scripts/busybox-rootfs.sh "$work/busybox.tar"
h image import --change 'ENV PATH=/bin' "$work/busybox.tar" busybox:latest >/dev/null
h run --name layer1 -v "$python_lib:/src:ro" busybox cp -a /src /python >/dev/null
h commit layer1 bench:1 >/dev/null
h run --name layer2 bench:1 sh -c 'head -c 8000000 /dev/urandom > /noise' >/dev/null
h commit layer2 bench:2 >/dev/null
h rm layer1 layer2 >/dev/null
h save --format oci -o "$work/bench.tar" bench:2
export HOME="$work/home" REGISTRY_AUTH_FILE="$work/auth.json"
mkdir -p "$HOME" && echo '{"auths":{}}' >"$REGISTRY_AUTH_FILE"
in_ns skopeo --insecure-policy copy --quiet --dest-tls-verify=false --dest-compress \
  --dest-compress-format gzip "oci-archive:$work/bench.tar" docker://127.0.0.1:5000/bench/app:1
h rmi bench:2 bench:1 busybox >/dev/null
echo "== pull from a local registry ($(nproc) CPUs, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "state (hoist's root and skopeo's layout): $state_kind"
echo "image: busybox + $python_lib ($(du -sh "$python_lib" | cut -f1)) + 8 MB random; compressed blobs:"
du -sh "$work/registry/docker/registry/v2/blobs" | cut -f1

image=127.0.0.1:5000/bench/app:1
run_wait hyperfine --runs "$runs" --warmup 1 --export-markdown "$work/result.md" \
  --command-name "skopeo copy docker:// oci:" \
  --prepare "rm -rf $state/oci" \
  "nsenter --net=/run/netns/$netns skopeo --insecure-policy copy --quiet --src-tls-verify=false docker://$image oci:$state/oci:1" \
  --command-name "hoist pull" \
  --prepare "$hoist -H unix://$work/daemon.sock rmi -f $image >/dev/null 2>&1 || true" \
  "$hoist -H unix://$work/daemon.sock pull -q $image"
cat "$work/result.md"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
