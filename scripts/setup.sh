#!/bin/sh
# Prepares a fresh Debian machine for hoist and runs a first container:
# installs the packages hoist needs, builds and installs hoist, imports an
# offline busybox image, and runs `hoist run --rm busybox echo hello`.
# Run as root from the repository: ./scripts/setup.sh
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh must run as root (hoist runs containers)" >&2; exit 1; }

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
install_packages

cargo build --release --locked
install -m 0755 target/release/hoist target/release/hoist-shim /usr/local/bin/

tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT
scripts/busybox-rootfs.sh "$tarball"
# The first command starts the daemon in the background if none runs.
hoist image import --change 'ENV PATH=/bin' "$tarball" busybox:latest
hoist run --rm busybox echo hello
