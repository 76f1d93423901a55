# The Debian packages hoist needs at run time and in its tests; sourced by
# scripts/setup.sh and .ci/run so both install the same set.
#   busybox-static  an offline base image for tests and the quick start
#   iproute2        `ip`, used by tests to inspect links and namespaces
#   nftables        `nft`, hoist's firewall backend (networking)
#   hyperfine       the benchmark harness (scripts/bench-run.sh)
#   skopeo          a real OCI client, to make archives the tests load
#   docker-registry a real OCI registry (the CNCF distribution server) the pull
#                   and push tests run on loopback in a namespace of their own
#   socat           UDP client and server in the published-port tests
#                   (busybox's nc has no UDP)
#   git             `hoist build` of a Git repository clones it, as Docker's
#                   CLI does (and the tests make one to build from)
HOIST_PACKAGES="busybox-static iproute2 nftables hyperfine skopeo docker-registry socat git"

install_packages() {
  missing=""
  for p in $HOIST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
}
