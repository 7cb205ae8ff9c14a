#!/usr/bin/env bash
# Installs what building and testing imgbatch needs on Debian 12: the -dev
# packages, the real clients the integration tests drive, and the npm packages
# of tests/integration (pinned by its package-lock.json). Idempotent: packages
# already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(
  build-essential cmake ccache pkg-config clang-format
  libboost-dev libboost-system-dev libboost-context-dev
  libvips-dev libjpeg62-turbo-dev libexif-dev liblcms2-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev zlib1g-dev
  libtomlplusplus-dev nlohmann-json3-dev libpugixml-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev libsimdjson-dev rapidjson-dev
  libjemalloc2 libabsl-dev libpoco-dev
)
TEST_PACKAGES=(
  awscli python3-boto3 python3-pytest s3cmd rclone openssl curl
  libvips-tools libjpeg-turbo-progs yamllint python3-pil chromium
)

want=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  want+=("${TEST_PACKAGES[@]}")
fi

# Node.js and npm: any install will do (the machine image may carry its own,
# which conflicts with Debian's packages); Debian's when there is none. The
# build needs them too: the dashboard's page is bundled from npm packages.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  want+=(nodejs npm)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The dashboard's libraries (uPlot) and bundler (esbuild), pinned by
# web/package-lock.json; the CMake build runs the same `npm ci` when the lock
# file is newer than node_modules.
if [[ -f web/package-lock.json && ! -x web/node_modules/.bin/esbuild ]]; then
  (cd web && npm ci --no-audit --no-fund)
fi

if [[ "${1:-}" != "--build-only" ]]; then
  if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
  fi
  if [[ ! -d tests/integration/node_modules/@aws-sdk/s3-presigned-post ]]; then
    (cd tests/integration && npm ci --no-audit --no-fund)
  fi
  if [[ ! -d tests/deploy/node_modules/kubernetes-models ]]; then
    (cd tests/deploy && npm ci --no-audit --no-fund)
  fi
fi
