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

# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)": keep the resolved paths.
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)

# dpkg records a file under the path its package installed it to: maybe the symlink's
# target, and /lib or /usr/lib (merged /usr). Every spelling of one library:
spellings() {
  for path in "$1" "$(readlink -f "$1")"; do
    case $path in
      /usr/*) printf '%s\n%s\n' "$path" "${path#/usr}" ;;
      *) printf '%s\n%s\n' "$path" "/usr$path" ;;
    esac
  done
}

# One dpkg-query for all of them (one per library is slow on a big binary). Lines are
# "pkg[:arch][, pkg2[:arch]]: /path"; paths that no package owns are simply absent.
owners=$(for lib in $libs; do spellings "$lib"; done | sort -u | xargs dpkg-query -S 2>/dev/null \
  | grep -v '^diversion ' || true)
owned_paths=$(mktemp)
trap 'rm -f "$owned_paths"' EXIT
printf '%s\n' "$owners" | sed -e 's/^[^/]*: \//\//' > "$owned_paths"

missing=0
for lib in $libs; do
  if ! spellings "$lib" | grep -q -F -x -f "$owned_paths"; then
    echo "runtime-packages.sh: no package owns $lib" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1

printf '%s\n' "$owners" | sed -e 's/: \/.*$//' | tr ',' '\n' \
  | sed -e 's/^ *//' -e 's/:.*$//' | grep -v '^$' | sort -u
