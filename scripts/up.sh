#!/usr/bin/env bash
# Installs what is missing, builds, and runs `imgbatch up` with its embedded
# defaults (127.0.0.1:4566, data in ./imgbatch-data). Extra arguments go to
# `imgbatch up`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --build-only
scripts/build.sh release
exec build/release/src/cli/imgbatch up "$@"
