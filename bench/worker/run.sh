#!/usr/bin/env bash
# Worker benchmark (not run in CI): images/s of ONE `imgbatch worker` process
# going through S3 + SQS (GET input, process, PUT both outputs, delete the
# message) against `imgbatch up --max-workers 0` (so the benchmarked worker
# is the only consumer), side by side in one run with `imgbatch process` on
# the same files and the same CPUs (the raw image rate). Prints img/s, the
# ratio worker/raw (target >= 0.9) and each process's peak RSS.
#
# The worker and `process` are pinned to the same CPUs with taskset; the
# server (playing S3 and SQS, remote on AWS) runs unpinned. The corpus is
# uploaded while no worker runs, so the queue holds every event when the
# worker starts; its time runs from exec to the last `outcome=processed`.
#
# usage: bench/worker/run.sh [IMGBATCH_BINARY]
#   env: CORPUS (default ../shared/corpus), CORES ("1 2": taskset -c 0 / 0-1),
#        WORKER_ARGS (extra `imgbatch worker` flags, e.g. "--concurrency 2"),
#        KEEP=1 keeps the work directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${IMGBATCH_BIN:-$root/build/release/src/cli/imgbatch}}
corpus=${CORPUS:-$root/../shared/corpus}
cores_list=${CORES:-"1 2"}
[ -x "$bin" ] || { echo "no imgbatch binary at $bin" >&2; exit 2; }

work=$(mktemp -d /tmp/imgbatch-bench-worker.XXXXXX)
mkdir -p "$work/files"
mapfile -t files < <(find "$corpus" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sort)
n=${#files[@]}
[ "$n" -gt 0 ] || { echo "no JPEGs in $corpus" >&2; exit 2; }
for f in "${files[@]}"; do ln -s "$f" "$work/files/$(basename "$f")"; done

export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench-secret-key-000000000000000000000000
export IMGBATCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID IMGBATCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
port=$((20000 + RANDOM % 10000))
endpoint=http://127.0.0.1:$port
server_pid=
start_server() {
  rm -rf "$work/data"
  "$bin" up --data-dir "$work/data" --listen 127.0.0.1:$port --max-workers 0 --log-level warn \
    >> "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "$endpoint/-/ready" > /dev/null && return; sleep 0.1; done
  echo "server did not start" >&2
  exit 1
}
stop_server() { kill "$server_pid" 2> /dev/null || true; wait "$server_pid" 2> /dev/null || true; }
cleanup() {
  stop_server
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cpus() { if [ "$1" = 1 ]; then echo 0; else echo "0-$(($1 - 1))"; fi; }
aws_() { python3 -m awscli --endpoint-url "$endpoint" "$@"; }

# One raw run: prints "img/s peakRSS_MiB cpu_seconds".
run_raw() {
  local cores=$1
  rm -rf "$work/out"
  /usr/bin/time -f "%e %M %U %S" -o "$work/raw.time" taskset -c "$(cpus "$cores")" \
    "$bin" process "$work/files" --out "$work/out" --progress none > "$work/raw.log" 2>&1
  read -r wall kb user sys < "$work/raw.time"
  awk -v n="$n" -v s="$wall" -v kb="$kb" -v u="$user" -v y="$sys" \
    'BEGIN { printf "%.2f %d %.2f\n", n / s, kb / 1024, u + y }'
}

# One worker run: a fresh server, the corpus queued, then one worker drains
# it. Prints "img/s peakRSS_MiB cpu_seconds concurrency".
run_worker() {
  local cores=$1 log=$work/worker-$1.log
  start_server
  aws_ s3 cp --recursive --quiet "$work/files" s3://input/bench/
  local key_id secret
  key_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$work/data/worker-key.json")
  secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$work/data/worker-key.json")
  : > "$log"
  local start end worker_pid
  start=$(date +%s.%N)
  AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$secret AWS_CONFIG_FILE=/dev/null \
    AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    /usr/bin/time -f "%e %M %U %S" -o "$work/worker.time" taskset -c "$(cpus "$cores")" \
    "$bin" worker --endpoint-url "$endpoint" --queue batch-queue --input-bucket input \
    --output-bucket output ${WORKER_ARGS:-} > "$log" 2>&1 &
  worker_pid=$!
  until [ "$(grep -cE 'outcome=(processed|failed-permanent)' "$log" || true)" -ge "$n" ]; do
    if ! kill -0 "$worker_pid" 2> /dev/null; then
      echo "worker exited early; log:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  # SIGTERM the worker itself (the child of /usr/bin/time), so time reports.
  pkill -TERM -P "$worker_pid"
  wait "$worker_pid" || true
  stop_server
  local processed concurrency
  processed=$(grep -c 'outcome=processed' "$log" || true)
  [ "$processed" -eq "$n" ] || echo "warning: worker processed $processed of $n" >&2
  concurrency=$(grep -o 'concurrency=[0-9]*' "$log" | head -1 | cut -d= -f2)
  read -r _ kb user sys < "$work/worker.time"
  awk -v n="$n" -v a="$start" -v b="$end" -v kb="$kb" -v u="$user" -v y="$sys" -v c="$concurrency" \
    'BEGIN { printf "%.2f %d %.2f %d\n", n / (b - a), kb / 1024, u + y, c }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Rounds alternate raw and worker so both see the same machine load; the
# summary takes medians. CPU seconds (user+sys of the process alone) are
# the load-independent part: the worker's own cost of S3 + SQS.
rounds=${ROUNDS:-3}
summary=()
for cores in $cores_list; do
  : > "$work/rounds-$cores"
  for round in $(seq "$rounds"); do
    read -r rr rrss rcpu < <(run_raw "$cores")
    read -r wr wrss wcpu wconc < <(run_worker "$cores")
    echo "$rr $rrss $rcpu $wr $wrss $wcpu $wconc" >> "$work/rounds-$cores"
    awk -v c="$cores" -v r="$round" -v rr="$rr" -v wr="$wr" -v rc="$rcpu" -v wc="$wcpu" -v k="$wconc" \
      'BEGIN { printf "cores=%s round %s: raw %.2f img/s, worker %.2f img/s (concurrency %s), ratio %.2f; CPU s raw %.1f worker %.1f\n", c, r, rr, wr, k, wr / rr, rc, wc }' >&2
  done
  f=$work/rounds-$cores
  summary+=("$(printf '%-6s %10s %12s %14s %10s %14s %14s %12s' "$cores" \
    "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f4 "$f" | median)" \
    "$(awk '{ print $4 / $1 }' "$f" | median | xargs printf '%.2fx')" \
    "$(awk '{ print $6 / $3 }' "$f" | median | xargs printf '%.2fx')" \
    "$(cut -d' ' -f2 "$f" | sort -g | tail -1)" "$(cut -d' ' -f5 "$f" | sort -g | tail -1)" \
    "$(cut -d' ' -f7 "$f" | head -1)")")
done

echo
echo "corpus: $n JPEGs in $corpus; $(getconf _NPROCESSORS_ONLN) CPUs; $rounds rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %12s %14s %10s %14s %14s %12s\n' cores "raw img/s" "worker img/s" "worker/raw" "CPU w/r" \
  "raw RSS MiB" "worker RSS MiB" "concurrency"
printf '%s\n' "${summary[@]}"
