#!/usr/bin/env bash
# S3 benchmark, peers side by side in one run (not part of CI):
#   1. GET of 1 MiB objects through presigned URLs with wrk against imgbatch up,
#      and against nginx serving the same files from disk (the ceiling);
#   2. durable PUT of 4 KiB objects (presigned) at 16 connections;
#   3. the same client's rate against /-/healthy (the HTTP ceiling).
# Prints each rate and the ratios. usage: bench/s3/run.sh [seconds] [connections]
#   env: POLICY=1 gives the bucket a policy every request is decided with (a Deny
#        with conditions that do not hold here, a Deny of deletes, an Allow to the
#        account), the cost of bucket policies on the request path.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
CONNS=${2:-16}
BIN=${IMGBATCH_BIN:-build/release/src/cli/imgbatch}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)"; exit 2; }

work=$(mktemp -d /tmp/imgbatch-bench-s3.XXXXXX)
chmod 755 "$work"  # nginx workers (www-data) read the same files
export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench-secret-key-000000000000000000000000
export IMGBATCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID IMGBATCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
IMG_PORT=$((20000 + RANDOM % 10000)); NGINX_PORT=$((IMG_PORT + 1))
endpoint=http://127.0.0.1:$IMG_PORT
"$BIN" up --data-dir "$work/data" --listen 127.0.0.1:$IMG_PORT --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$endpoint/-/ready" >/dev/null && break; sleep 0.1; done

aws_() { python3 -m awscli --endpoint-url "$endpoint" --region us-east-1 "$@"; }
aws_ s3 mb s3://bench >/dev/null
if [[ ${POLICY:-0} == 1 ]]; then
  aws_ s3api put-bucket-policy --bucket bench --policy '{"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::bench", "arn:aws:s3:::bench/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bench/*"},
    {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::bench/*"}]}'
  echo "# bucket policy set (POLICY=1)" >&2
fi
mkdir -p "$work/www/bench"
for i in $(seq 0 63); do
  head -c 1048576 /dev/urandom >"$work/www/bench/get$i"
done
aws_ s3 cp --recursive --quiet "$work/www/bench" s3://bench/
python3 bench/s3/presign.py "$endpoint" bench GET get 64 "$work/get.paths"
python3 bench/s3/presign.py "$endpoint" bench PUT put 20000 "$work/put.paths"
# nginx gets the same paths (its root ignores the query string).
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  server { listen 127.0.0.1:$NGINX_PORT; root $work/www; location / { if_modified_since off; } }
}
NGINX
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/bench/get0" -o /dev/null && break; sleep 0.1; done

run_wrk() {  # name url method paths body_bytes
  local out
  out=$(METHOD=$3 PATHS_FILE=$4 BODY_BYTES=$5 wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" \
        -s bench/s3/rotate.lua "$2" | grep RESULT)
  echo "$1 $out" >&2
  echo "$out" | sed -E 's/.*requests\/s=([0-9.]+).*/\1/'
}
echo "# S3 benchmark: ${SECONDS_PER_RUN}s per run, $CONNS connections, wrk -t2, $(nproc) cores" >&2
img_get=$(run_wrk "imgbatch GET 1MiB presigned:" "$endpoint" GET "$work/get.paths" 0)
nginx_get=$(run_wrk "nginx    GET 1MiB static:   " "http://127.0.0.1:$NGINX_PORT" GET "$work/get.paths" 0)
img_put=$(run_wrk "imgbatch PUT 4KiB durable:  " "$endpoint" PUT "$work/put.paths" 4096)
echo "/-/healthy" >"$work/health.paths"
health=$(run_wrk "imgbatch /-/healthy:        " "$endpoint" GET "$work/health.paths" 0)
python3 - "$img_get" "$nginx_get" "$img_put" "$health" <<'PY'
import sys
g, n, p, h = map(float, sys.argv[1:5])
print(f"GET 1 MiB: imgbatch {g:.0f}/s ({g/1024:.2f} GiB/s), nginx {n:.0f}/s, ratio {g/n:.2f}x nginx")
print(f"PUT 4 KiB durable: {p:.0f}/s ({p/h:.2f}x of the /-/healthy ceiling {h:.0f}/s)")
PY
