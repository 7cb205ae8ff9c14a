#!/usr/bin/env bash
# Two server builds (or one build under two environments) side by side (not
# part of CI): runs bench/queue/run.sh for A, then B, PAIRS times, so both see
# the same minutes of this host (its speed drifts by 10-25% over a day and two
# runs of one binary differ by up to ~10%), and prints each run's messages/s,
# server CPU and bytes per message, then the medians and B's ratio to A.
# With BACKLOG=N (run.sh's backlog rounds) each run also shows the median
# receive p99 ratio with / without the backlog and messages/s behind it.
# usage: bench/queue/compare.sh BIN_A BIN_B [pairs] [seconds] [connections]
#   env: A_ENV="VAR=value ..." / B_ENV="..." set for that side's server only;
#        everything else as run.sh (QUEUE_BENCH_BIN, TMPDIR, ...).
#   e.g. bench/queue/compare.sh /tmp/imgbatch-old build/release/src/cli/imgbatch 5
#        BACKLOG=100000 bench/queue/compare.sh /tmp/imgbatch-old build/release/src/cli/imgbatch 2 10
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $# -lt 2 ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BIN_A=$1
BIN_B=$2
PAIRS=${3:-5}
SECONDS_PER_RUN=${4:-8}
CONNS=${5:-16}
for bin in "$BIN_A" "$BIN_B"; do
  [[ -x $bin ]] || { echo "compare.sh: not an executable: $bin" >&2; exit 2; }
done

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# One run of run.sh; appends "side msgs_per_s server_us bytes p99_ratio
# msgs_per_s_behind" to $results (the last two "-" without BACKLOG).
run_one() {
  local side=$1 bin=$2 side_env=$3 out
  # shellcheck disable=SC2086  # side_env is a list of VAR=value words
  out=$(env $side_env IMGBATCH_BIN="$bin" bench/queue/run.sh "$SECONDS_PER_RUN" "$CONNS" 2>&1) || {
    echo "$out" >&2
    echo "compare.sh: run.sh failed for $side ($bin)" >&2
    exit 1
  }
  local line
  line=$(awk -v side="$side" '
    /^cycles:/ { rate = $2 }
    /^cycles with backlog:/ { behind = $4 }
    /per message: server/ && cpu == "" { cpu = $4; bytes = $7 }
    /median of [0-9]+ rounds:/ { for (i = 1; i <= NF; i++) if ($i == "rounds:") { ratio = $(i + 1); sub("x", "", ratio) } }
    END {
      if (rate == "" || cpu == "") exit 1
      printf "%s %s %s %s %s %s\n", side, rate, cpu, bytes, ratio == "" ? "-" : ratio, behind == "" ? "-" : behind
    }
  ' <<<"$out") || { echo "$out" >&2; echo "compare.sh: no result in run.sh's output" >&2; exit 1; }
  echo "$line" >>"$results"
  read -r _ rate cpu bytes ratio behind <<<"$line"
  local backlog=""
  [[ $ratio != - ]] && backlog="  behind the backlog $behind msg/s, receive p99 ratio ${ratio}x"
  printf '%s  %-1s  %7s msg/s  %5s us CPU/msg  %5s bytes/msg%s  (%s)\n' \
    "$(date -u +%T)" "$side" "$rate" "$cpu" "${bytes%,}" "$backlog" "$(uptime | sed 's/.*load average: //')"
}

echo "# A = $BIN_A ${A_ENV:-}"
echo "# B = $BIN_B ${B_ENV:-}"
echo "# $PAIRS pairs, run.sh $SECONDS_PER_RUN $CONNS, $(nproc) cores"
for _ in $(seq "$PAIRS"); do
  run_one A "$BIN_A" "${A_ENV:-}"
  run_one B "$BIN_B" "${B_ENV:-}"
done

# Medians per side and B / A.
awk '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  {
    gsub(",", "", $4); n[$1]++
    rate[$1, n[$1]] = $2; cpu[$1, n[$1]] = $3; bytes[$1, n[$1]] = $4; ratio[$1, n[$1]] = $5; behind[$1, n[$1]] = $6
    backlog = $5 != "-"
  }
  END {
    for (s = 0; s < 2; s++) {
      side = s ? "B" : "A"
      for (i = 1; i <= n[side]; i++) {
        r[i] = rate[side, i]; c[i] = cpu[side, i]; b[i] = bytes[side, i]; p[i] = ratio[side, i]; h[i] = behind[side, i]
      }
      mr[side] = median(r, n[side]); mc[side] = median(c, n[side]); mb[side] = median(b, n[side])
      printf "median %s: %.0f msg/s, %.1f us CPU/msg, %.0f bytes/msg", side, mr[side], mc[side], mb[side]
      if (backlog) {
        mp[side] = median(p, n[side]); mh[side] = median(h, n[side])
        printf "; behind the backlog %.0f msg/s, receive p99 ratio %.2fx", mh[side], mp[side]
      }
      printf "\n"
    }
    printf "B / A: msg/s %.3f, CPU/msg %.3f, bytes/msg %.3f", mr["B"] / mr["A"], mc["B"] / mc["A"], mb["B"] / mb["A"]
    if (backlog) printf ", msg/s behind the backlog %.3f", mh["B"] / mh["A"]
    printf "\n"
  }
' "$results"
