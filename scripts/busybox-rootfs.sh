#!/bin/sh
# Builds a busybox root filesystem tarball from Debian's busybox-static,
# for `hoist import`: every applet as a symlink, and minimal /etc files.
# Usage: scripts/busybox-rootfs.sh OUTPUT.tar
set -eu
out=${1:?usage: $0 OUTPUT.tar}
busybox=$(command -v busybox) || { echo "busybox is not installed (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/root" "$dir/tmp" "$dir/var/www" "$dir/home"
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
users:x:100:
nogroup:x:65534:
GROUP
tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf "$out" .
