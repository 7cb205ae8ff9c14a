#!/usr/bin/env bash
# Browser-based POST uploads against presigned PUTs of the same size, side by
# side in one run (not part of CI): what reading a multipart/form-data body
# (Poco's MultipartReader, post_form.h) costs over a plain PUT body. wrk sends
# one signed form again and again (each overwrites its key) and presigned PUTs
# of as many bytes. usage: bench/s3/post.sh [seconds] [connections] [bytes]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
CONNS=${2:-8}
BYTES=${3:-1048576}
BIN=${IMGBATCH_BIN:-build/release/src/cli/imgbatch}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 2; }

work=$(mktemp -d /tmp/imgbatch-bench-post.XXXXXX)
export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench-secret-key-000000000000000000000000
export IMGBATCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID IMGBATCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
PORT=$((20000 + RANDOM % 10000))
endpoint=http://127.0.0.1:$PORT
"$BIN" up --data-dir "$work/data" --listen 127.0.0.1:$PORT --max-workers 0 --log-level warn \
  >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$endpoint/-/ready" >/dev/null && break; sleep 0.1; done
python3 -m awscli --endpoint-url "$endpoint" --region us-east-1 s3 mb s3://bench >/dev/null

content_type=$(python3 bench/s3/post_form.py "$endpoint" bench "$BYTES" "$work/form.bin")
python3 bench/s3/presign.py "$endpoint" bench PUT put 20000 "$work/put.paths"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: $content_type" \
  --data-binary @"$work/form.bin" "$endpoint/bench")
[[ $code == 204 ]] || { echo "the form was refused: HTTP $code"; exit 1; }

echo "# POST vs PUT: ${SECONDS_PER_RUN}s per run, $CONNS connections, $BYTES bytes, $(nproc) cores" >&2
echo /bench >"$work/post.paths"
run_post() {
  METHOD=POST PATHS_FILE=$work/post.paths BODY_FILE=$work/form.bin CONTENT_TYPE=$content_type \
    wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" -s bench/s3/rotate.lua "$endpoint" | grep RESULT
}
run_put() {
  METHOD=PUT PATHS_FILE=$work/put.paths BODY_BYTES=$BYTES \
    wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" -s bench/s3/rotate.lua "$endpoint" | grep RESULT
}
# Alternating, both orders: whichever runs first on this host may do better.
results=()
for order in "post put" "put post"; do
  for kind in $order; do
    out=$(run_$kind)
    echo "$kind: $out" >&2
    results+=("$kind $out")
  done
done
python3 - "$BYTES" "${results[@]}" <<'PY'
import re, sys
size = int(sys.argv[1])
rates = {"post": [], "put": []}
for line in sys.argv[2:]:
    rates[line.split()[0]].append(float(re.search(r"requests/s=([0-9.]+)", line).group(1)))
post, put = (sum(v) / len(v) for v in (rates["post"], rates["put"]))
print(f"POST {post:.0f}/s ({post * size / 2**20:.0f} MiB/s), PUT {put:.0f}/s "
      f"({put * size / 2**20:.0f} MiB/s), means of two: POST/PUT {post / put:.2f}")
PY
