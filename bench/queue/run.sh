#!/usr/bin/env bash
# SQS benchmark (not part of CI): builds queue_bench and imgbatch (release,
# BUILD_BENCHMARKS=ON) if missing, starts `imgbatch up --max-workers 0` on a
# fresh data directory in a temp dir (durable: SQLite WAL, synced before acknowledging),
# runs send-batch(10) -> receive(10) -> delete-batch cycles at 16 connections,
# then the same client against /-/healthy, and prints messages/s, latencies and
# the ratio. BACKLOG=1000000 also measures with a million messages queued:
# it fills a second queue once, then alternates phases on it (with the
# backlog) and on the first queue (without) ROUNDS times (default 3) on the
# same server, and prints each phase's receive p50/p99 and the median of the
# rounds' p99 ratios (a single pair swings 1.0-1.3x from run to run).
# usage: bench/queue/run.sh [seconds] [connections]
#   env: BACKLOG=N ROUNDS=N RATE=msgs/s (paced cycles, see queue_bench.cc) CLIENT_THREADS=N
#        FIFO=1 (a FIFO queue, ten message groups per connection; not with BACKLOG)
#        DLQ=1 (the standard queue has a RedrivePolicy to a dead-letter queue, as the pipeline's)
#        TENANT=name (every message of the standard queue carries this MessageGroupId: the
#        fair queues' receive path, as one noisy tenant with no quiet one)
#        POLLERS=1,5000 (instead of the cycles: that many parked long polls per phase, then
#        POLL_MESSAGES (2000) messages sent at POLL_RATE (200)/s; delivery latency per phase)
#        TMPDIR=dir KEEP=1
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
CONNS=${2:-16}
BUILD=${BUILD_DIR:-build/release}
BIN=${IMGBATCH_BIN:-$BUILD/src/cli/imgbatch}
BENCH=${QUEUE_BENCH_BIN:-$BUILD/bench/queue/queue_bench}
if [[ ! -x $BIN || ! -x $BENCH ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$BUILD" -j "${IMGBATCH_JOBS:-$(nproc)}" --target imgbatch queue_bench >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/imgbatch-bench-queue.XXXXXX")  # TMPDIR=/dev/shm: fsync cost out
export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench-secret-key-000000000000000000000000
export IMGBATCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID IMGBATCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
PORT=$((20000 + RANDOM % 10000))
config=()
if [[ -n ${FIFO:-} ]]; then  # the server's speed, not AWS's 300 calls/s quota of FIFO queues
  printf '[limits]\nfifo_calls_per_second = 0\n' >"$work/imgbatch.toml"
  config=(--config "$work/imgbatch.toml")
fi
"$BIN" up --data-dir "$work/data" --listen 127.0.0.1:$PORT --max-workers 0 --log-level warn \
  "${config[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null && break; sleep 0.1; done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed 's/.*load/load/')"
"$BENCH" --endpoint "http://127.0.0.1:$PORT" --connections "$CONNS" --seconds "$SECONDS_PER_RUN" \
  --threads "${CLIENT_THREADS:-1}" --backlog "${BACKLOG:-0}" --rounds "${ROUNDS:-3}" --rate "${RATE:-0}" --server-pid "$server_pid" \
  ${FIFO:+--fifo} ${DLQ:+--dead-letter-queue} ${TENANT:+--tenant "$TENANT"} ${POLLERS:+--pollers "$POLLERS" --poll-messages "${POLL_MESSAGES:-2000}" \
  --poll-rate "${POLL_RATE:-200}"}
echo "# server: $(grep -E '^(VmHWM|VmRSS)' /proc/$server_pid/status | tr -s ' \n' ' ')"
echo "# database: $(du -sh "$work/data" | cut -f1); $(uptime | sed 's/.*load/load/')"
