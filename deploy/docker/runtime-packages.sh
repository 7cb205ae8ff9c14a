#!/bin/sh
# Prints, one per line, the Debian packages that provide the shared libraries
# BINARY links against: the runtime stage installs exactly these, so the image
# carries no -dev package and no library the binary does not load. Works on any
# architecture (dpkg names the package, ldd finds the multiarch path).
#   runtime-packages.sh BINARY
set -eu
binary=${1:?usage: runtime-packages.sh BINARY}
if ! ldd "$binary" >/dev/null 2>&1; then
  echo "runtime-packages.sh: $binary is not a dynamically linked executable" >&2
  exit 1
fi
# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)": keep the resolved path.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  # dpkg records the path as installed; /lib may be a symlink to /usr/lib.
  dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null \
    || { echo "runtime-packages.sh: no package owns $lib" >&2; exit 1; }
done | sed -e 's/:.*$//' | sort -u
