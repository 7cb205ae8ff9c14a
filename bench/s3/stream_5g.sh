#!/usr/bin/env bash
# Streams a 5 GiB object in and out of `imgbatch up` and reports the server's
# peak RSS (VmHWM) - the body must never sit whole in memory. Not in CI (disk
# and time). usage: bench/s3/stream_5g.sh [GiB]
set -euo pipefail
cd "$(dirname "$0")/../.."
GIB=${1:-5}
BIN=${IMGBATCH_BIN:-build/release/src/cli/imgbatch}
work=$(mktemp -d /tmp/imgbatch-5g.XXXXXX)
export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench-secret-key-000000000000000000000000
export IMGBATCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID IMGBATCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
PORT=$((20000 + RANDOM % 10000)); endpoint=http://127.0.0.1:$PORT
"$BIN" up --data-dir "$work/data" --listen 127.0.0.1:$PORT --max-workers 0 --log-level warn >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$endpoint/-/ready" >/dev/null && break; sleep 0.1; done
python3 -m awscli --endpoint-url "$endpoint" --region us-east-1 s3 mb s3://big >/dev/null
url=$(python3 - "$endpoint" <<'PY'
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
print(s3.generate_presigned_url("put_object", Params={"Bucket": "big", "Key": "blob"}, ExpiresIn=3600))
PY
)
get=${url/put_object/get_object}
echo "uploading $GIB GiB (single PUT, streamed)..."
start=$(date +%s.%N)
# -T - would send Transfer-Encoding: chunked next to Content-Length (refused, as RFC 9112
# allows): unset it so the body streams with its declared length.
head -c $((GIB << 30)) /dev/zero |
  curl -sSf -X PUT -T - -H "Content-Length: $((GIB << 30))" -H "Transfer-Encoding:" "$url" -o /dev/null
end=$(date +%s.%N)
echo "PUT: $(python3 -c "print(f'{$GIB*1024/($end-$start):.0f} MiB/s')") peak RSS so far: $(grep VmHWM /proc/$pid/status)"
getu=$(python3 - "$endpoint" <<'PY'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
print(s3.generate_presigned_url("get_object", Params={"Bucket": "big", "Key": "blob"}, ExpiresIn=3600))
PY
)
start=$(date +%s.%N)
bytes=$(curl -sf "$getu" | wc -c)
end=$(date +%s.%N)
echo "GET: $bytes bytes, $(python3 -c "print(f'{$GIB*1024/($end-$start):.0f} MiB/s')")"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status)"
