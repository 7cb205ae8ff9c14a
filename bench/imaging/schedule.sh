#!/usr/bin/env bash
# Two-core scheduling under the memory budget (not run in CI): runs
# `imgbatch process` on the corpus in alternating rounds as
#   strict    --lookahead 1 (images in input order, each waits its turn)
#   lookahead the default (an image that fits goes ahead of one that waits)
#   unlimited --memory-budget 0 (no budget: the throughput ceiling)
# [and BEFORE, another binary with its defaults, when given], and prints per
# configuration the median (and least) wall, CPU, the time threads sat blocked on the
# budget (from the summary line; as a share of thread time it does not
# depend much on machine load), the worst peak RSS, and ratios to strict.
#
# Usage: bench/imaging/schedule.sh [IMGBATCH_BINARY [BEFORE_BINARY]]
#   env: CORPUS (default ../shared/corpus), ROUNDS (5), CPUS (0,1), OUT (/tmp/imgbatch-schedule)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
imgbatch=${1:-${IMGBATCH:-$root/build/release/src/cli/imgbatch}}
before=${2:-}
corpus=${CORPUS:-$root/../shared/corpus}
rounds=${ROUNDS:-5}
cpus=${CPUS:-0,1}
out=${OUT:-/tmp/imgbatch-schedule}
mkdir -p "$out"

configs=(strict lookahead unlimited)
[ -n "$before" ] && configs+=(before)

run_one() {  # CONFIG -> "wall cpu% rss_kib waited_s"
  local binary=$imgbatch args=()
  case $1 in
    strict) args=(--lookahead 1) ;;
    unlimited) args=(--memory-budget 0) ;;
    before) binary=$before ;;
  esac
  rm -rf "$out/o"
  /usr/bin/time -o "$out/time" -f '%e %P %M' taskset -c "$cpus" "$binary" process "$corpus" \
    --out "$out/o" --progress none "${args[@]}" > "$out/summary"
  local waited  # no line: nothing waited; a binary without the line: unknown (-1)
  waited=$(sed -n 's/.*threads waited [0-9]* times, \([0-9.]*\) s in all.*/\1/p' "$out/summary")
  [ "$1" = before ] && waited=-1
  echo "$(tr -d '%' < "$out/time") ${waited:-0}"
}

echo "$(date -u '+%F %T UTC'); $(uptime | sed 's/.*load/load/'); cpus $cpus; $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
  for c in "${configs[@]}"; do echo "$c $(run_one "$c") $r"; done
done | tee "$out/runs" | awk '{ printf "  round %d: %-10s wall %5.2f s  cpu %4d%%  rss %7d KiB  waited %5.2f s\n", $6, $1, $2, $3, $4, $5 }'
echo "$(date -u '+%T UTC'); $(uptime | sed 's/.*load/load/')"

# Medians per configuration; idle share = waited / (threads x wall).
threads=$(($(tr ',' '\n' <<< "$cpus" | wc -l)))
printf '%-10s %10s %10s %8s %12s %10s %12s %10s\n' config "wall s" "min wall" "CPU %" "idle share" "img/s" "peak KiB" "x strict"
for c in "${configs[@]}"; do
  awk -v c="$c" -v t="$threads" -v n="$(find "$corpus" -type f -iname '*.jp*g' | wc -l)" '
    $1 == c { w[++k] = $2; p[k] = $3; s[k] = $5 / (t * $2); if ($4 > rss) rss = $4
              if (k == 1 || $2 < least) least = $2 }
    function median(a, m,   i, j, x) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x } return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    END { printf "%s %.3f %d %.3f %.1f %d %.3f\n", c, median(w, k), median(p, k), median(s, k), n / median(w, k), rss, least }
  ' "$out/runs"
done | awk '
  { row[NR] = $0; if ($1 == "strict") base = $5 }
  END { for (i = 1; i <= NR; i++) { split(row[i], f, " ")
    idle = f[4] < 0 ? "n/a" : sprintf("%.1f%%", 100 * f[4])
    printf "%-10s %10.2f %10.2f %8d %12s %10.1f %12d %9.2fx\n", f[1], f[2], f[7], f[3], idle, f[5], f[6], f[5] / base } }'
