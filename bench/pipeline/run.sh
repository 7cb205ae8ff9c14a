#!/usr/bin/env bash
# Pipeline benchmark (not run in CI): a burst of uploads through `imgbatch up`
# with the autoscaled pool, a fixed pool at max workers and the seed's Python
# worker, side by side with raw `imgbatch process` on the same files; then the
# idle and from-zero upload-to-output latency. See bench.py for what is measured.
#
# Usage: bench/pipeline/run.sh [bench.py flags...]
#   e.g. bench/pipeline/run.sh --images 138 --imgbatch build/release/src/cli/imgbatch
# Needs Debian's python3-boto3 and python3-pil (scripts/deps.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
uptime
exec /usr/bin/python3 "$here/bench.py" "$@"
