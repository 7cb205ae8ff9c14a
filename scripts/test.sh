#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. clang-format check of all C++ sources
#   2. release build: unit, in-process, fuzz-replay and integration tests
#      (real clients against the real binary)
#   3. ASan+UBSan build: unit, in-process and fuzz-replay tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== clang-format check"
mapfile -t sources < <(git ls-files 'src/*.cc' 'src/*.h' 'fuzz/*.cc' 'bench/*.cc')
if ((${#sources[@]})); then
  clang-format --dry-run --Werror "${sources[@]}"
fi

echo "== release build"
scripts/build.sh release
echo "== release tests"
(cd build/release && ctest --output-on-failure --timeout 600 -j "${IMGBATCH_TEST_JOBS:-2}")

if [[ "${IMGBATCH_SKIP_ASAN:-0}" != "1" ]]; then
  echo "== ASan+UBSan build"
  scripts/build.sh asan -DBUILD_INTEGRATION_TESTS=OFF
  echo "== ASan+UBSan tests (unit, in-process, fuzz replay)"
  lsan_suppressions="$PWD/scripts/lsan.supp"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     LSAN_OPTIONS="suppressions=$lsan_suppressions" \
     ctest --output-on-failure --timeout 900 -j "${IMGBATCH_TEST_JOBS:-2}" -L unit)
fi
echo "== all tests passed"
