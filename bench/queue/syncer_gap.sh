#!/usr/bin/env bash
# Where the db-syncer's time goes between two fdatasyncs of the WAL (not part
# of CI; needs perf and root). Starts bench/queue/run.sh 10 16 in the
# background, records 2 s of the first db-syncer thread's syscalls and
# scheduler events from the 5th second on, and prints per gap (fdatasync exit
# to the next fdatasync entry): time on the CPU, blocked in futex (waiting for
# work or for the writer's connection), runnable but not running (preempted or
# not yet scheduled after a wake-up), and in pwrite64 (the COMMIT's WAL
# writes); then the futex waits by operation and address.
# usage: bench/queue/syncer_gap.sh [imgbatch binary]   (env as run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-${IMGBATCH_BIN:-build/release/src/cli/imgbatch}}
out=$(mktemp -d "${TMPDIR:-/tmp}/syncer-gap.XXXXXX")
IMGBATCH_BIN=$BIN bench/queue/run.sh 10 16 >"$out/run.txt" 2>&1 &
bench=$!
sleep 5
name=$(basename "$BIN")
PID=$(pgrep -x "${name:0:15}" | head -1)
SY=$(grep -l '^db-syncer$' /proc/"$PID"/task/*/comm | cut -d/ -f5 | head -1)
F="common_pid == $SY"
perf record -q -a -o "$out/perf.data" \
  -e syscalls:sys_enter_fdatasync --filter "$F" -e syscalls:sys_exit_fdatasync --filter "$F" \
  -e syscalls:sys_enter_futex --filter "$F" -e syscalls:sys_exit_futex --filter "$F" \
  -e syscalls:sys_enter_pwrite64 --filter "$F" -e syscalls:sys_exit_pwrite64 --filter "$F" \
  -e sched:sched_switch --filter "prev_pid == $SY || next_pid == $SY" \
  -e sched:sched_wakeup --filter "pid == $SY" -- sleep 2 2>/dev/null
wait "$bench" || true
grep -E "^cycles" "$out/run.txt" || true
perf script -i "$out/perf.data" -F tid,time,event,trace 2>/dev/null | SY=$SY python3 -c '
import os, sys, collections
SY = os.environ["SY"]
in_gap = False; t_last = None; state = "run"; gstart = None
acc = collections.Counter(); gaps = 0; gap_total = 0.0
futex = collections.defaultdict(list); fent = None; fkey = None
def add(t):
    global t_last
    if in_gap and t_last is not None: acc[state] += t - t_last
    t_last = t
for line in sys.stdin:
    f = line.split(None, 3)
    if len(f) < 3: continue
    tid, t, ev = f[0], float(f[1].rstrip(":")), f[2].rstrip(":")
    rest = f[3] if len(f) > 3 else ""
    if ev == "sched:sched_wakeup":
        add(t); state = "runnable"; continue
    if ev == "sched:sched_switch":
        if ("prev_pid=%s " % SY) in rest:
            add(t)
            if state == "run": state = "blocked" if ("prev_state=S" in rest or "prev_state=D" in rest) else "runnable"
        else:
            add(t)
            if state == "runnable": state = "run"
        continue
    if tid != SY: continue
    if ev == "syscalls:sys_exit_fdatasync":
        t_last = t; in_gap = True; gstart = t; state = "run"
    elif ev == "syscalls:sys_enter_fdatasync":
        add(t)
        if in_gap: gaps += 1; gap_total += t - gstart
        in_gap = False
    elif ev == "syscalls:sys_enter_futex":
        add(t); state = "futex"; fent = t
        parts = dict(p.strip().split(":", 1) for p in rest.split(",") if ":" in p)
        fkey = (parts.get("op", "?").strip(), parts.get("uaddr", "?").strip())
    elif ev == "syscalls:sys_exit_futex":
        add(t); state = "run"
        if in_gap and fent is not None: futex[fkey].append(t - fent)
    elif ev == "syscalls:sys_enter_pwrite64": add(t); state = "pwrite"
    elif ev == "syscalls:sys_exit_pwrite64": add(t); state = "run"
n = max(1, gaps)
print("gaps between fdatasyncs: %d in 2 s, mean %.0f us" % (gaps, gap_total / n * 1e6))
for k in ("run", "futex", "runnable", "pwrite", "blocked"):
    print("  %-9s %5.0f us per gap" % (k, acc[k] / n * 1e6))
print("futex calls in the gaps (op, uaddr): count, mean")
for k, v in sorted(futex.items(), key=lambda kv: -sum(kv[1]))[:6]:
    print("  %s %s: %d, %.0f us" % (k[0], k[1], len(v), sum(v) / len(v) * 1e6))
'
rm -rf "$out"
