#!/usr/bin/env bash
# Side-by-side benchmark of the image job on the corpus (not run in CI):
# `imgbatch process`, sharp (npm), vipsthumbnail, ImageMagick, GraphicsMagick,
# the seed's Pillow logic and a libjpeg-turbo floor, each on 1 and 2 cores
# (taskset; one process per core for the tools without threads). Prints img/s,
# peak RSS per process, output bytes, SSIM vs a float Lanczos3 reference and
# ratios to sharp. A tool that is not installed is skipped with a note.
#
# Usage: bench/imaging/run.sh [IMGBATCH_BINARY]
#   env: CORPUS (default ../shared/corpus), OUT (default /tmp/imgbatch-bench),
#        CORES ("1 2"), SHARP_MODULES (a node_modules holding sharp; default
#        /tmp/sharp-bench/node_modules: `cd /tmp/sharp-bench && npm install sharp`),
#        PYTHON (a python3 with PIL and numpy; default /usr/bin/python3:
#        apt-get install python3-pil python3-numpy), SKIP_QUALITY=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
imgbatch=${1:-${IMGBATCH:-$root/build/src/cli/imgbatch}}
corpus=${CORPUS:-$root/../shared/corpus}
out=${OUT:-/tmp/imgbatch-bench}
cores_list=${CORES:-"1 2"}
sharp_modules=${SHARP_MODULES:-/tmp/sharp-bench/node_modules}
python=${PYTHON:-/usr/bin/python3}

mapfile -t files < <(find "$corpus" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sort)
n=${#files[@]}
[ "$n" -gt 0 ] || { echo "no JPEGs in $corpus" >&2; exit 2; }
mkdir -p "$out"
export VIPS_CONCURRENCY=1 MAGICK_THREAD_LIMIT=1 OMP_NUM_THREADS=1

cpus() { if [ "$1" = 1 ]; then echo 0; else echo "0-$(($1 - 1))"; fi; }

# Runs "$@ OUTDIR FILE..." as $cores processes over equal shares of the files.
per_process() {
  local cores=$1 dir=$2
  shift 2
  local per=$(((n + cores - 1) / cores))
  printf '%s\0' "${files[@]}" | xargs -0 -P "$cores" -n "$per" "$@" "$dir"
}

# The per-tool jobs, each taking OUTDIR FILE...
job_vipsthumbnail() {
  local o=$1; shift
  vipsthumbnail -s '1024x768>' -o "$o/resized/%s.jpg[Q=100,strip,subsample_mode=on]" "$@"
  vipsthumbnail -s '192x192>' -o "$o/thumbs/%s.jpg[Q=75,strip]" "$@"
}
job_imagemagick() {
  local o=$1 f; shift
  for f in "$@"; do
    /usr/bin/convert "$f" -limit thread 1 -auto-orient -strip -resize '1024x768>' -quality 100 \
      -sampling-factor 2x2 -write "$o/resized/$(basename "$f")" \
      -resize '192x192>' -quality 75 "$o/thumbs/$(basename "$f")"
  done
}
job_graphicsmagick() {  # gm has no -write: two decodes per image
  local o=$1 f; shift
  for f in "$@"; do
    gm convert "$f" -auto-orient -strip -resize '1024x768>' -quality 100 -sampling-factor 2x2 \
      "$o/resized/$(basename "$f")"
    gm convert -size 384x384 "$f" -auto-orient -strip -resize '192x192>' -quality 75 \
      "$o/thumbs/$(basename "$f")"
  done
}
job_djpeg_floor() {  # decode at 1/4 and 1/8 + encode, no resampling: a floor, not a peer
  local o=$1 f; shift
  for f in "$@"; do
    djpeg -scale 1/4 "$f" | cjpeg -quality 100 -sample 2x2 > "$o/resized/$(basename "$f")"
    djpeg -scale 1/8 "$f" | cjpeg -quality 75 > "$o/thumbs/$(basename "$f")"
  done
}
export -f job_vipsthumbnail job_imagemagick job_graphicsmagick job_djpeg_floor

# tool name, availability test, runner (called with CORES DIR)
run_imgbatch() { "$imgbatch" process "$corpus" --out "$2" --progress none > "$2.log"; }
run_sharp() { NODE_PATH=$sharp_modules per_process "$1" "$2" node "$here/sharp_job.js"; }
run_pillow() { per_process "$1" "$2" "$python" "$here/pillow_seed.py"; }
run_vipsthumbnail() { per_process "$1" "$2" bash -c 'job_vipsthumbnail "$@"' _; }
run_imagemagick() { per_process "$1" "$2" bash -c 'job_imagemagick "$@"' _; }
run_graphicsmagick() { per_process "$1" "$2" bash -c 'job_graphicsmagick "$@"' _; }
run_djpeg_floor() { per_process "$1" "$2" bash -c 'job_djpeg_floor "$@"' _; }

available() {
  case $1 in
    imgbatch) [ -x "$imgbatch" ] ;;
    sharp) [ -d "$sharp_modules/sharp" ] && command -v node > /dev/null ;;
    pillow) "$python" -c 'import PIL' 2> /dev/null ;;
    vipsthumbnail) command -v vipsthumbnail > /dev/null ;;
    imagemagick) [ -x /usr/bin/convert ] ;;
    graphicsmagick) command -v gm > /dev/null ;;
    djpeg_floor) command -v djpeg > /dev/null && command -v cjpeg > /dev/null ;;
  esac
}

tools=(sharp imgbatch vipsthumbnail pillow imagemagick graphicsmagick djpeg_floor)
declare -A rate rss bytes
for cores in $cores_list; do
  for tool in "${tools[@]}"; do
    if ! available "$tool"; then
      echo "skip $tool: not installed" >&2
      continue
    fi
    dir=$out/$tool-$cores
    rm -rf "$dir" && mkdir -p "$dir/resized" "$dir/thumbs"
    echo "run $tool on $cores core(s)" >&2
    /usr/bin/time -f "%e %M" -o "$dir.time" taskset -c "$(cpus "$cores")" bash -c \
      "$(declare -f per_process run_$tool); $(declare -p files n here imgbatch corpus sharp_modules python); run_$tool $cores '$dir'" \
      || echo "  $tool exited non-zero (see $dir.log)" >&2
    read -r wall kb < "$dir.time"
    rate[$tool-$cores]=$(awk -v n="$n" -v s="$wall" 'BEGIN { printf "%.1f", n / s }')
    rss[$tool-$cores]=$(awk -v b="$kb" 'BEGIN { printf "%.0f", b / 1024 }')
    bytes[$tool]=$(du -sb "$dir" | awk '{ printf "%.1f", $1 / 1e6 }')
  done
done

echo
echo "corpus: $n JPEGs in $corpus; $(getconf _NPROCESSORS_ONLN) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s' tool
for cores in $cores_list; do printf '%14s' "img/s ${cores}c" "x sharp ${cores}c"; done
for cores in $cores_list; do printf '%14s' "RSS MiB ${cores}c"; done
printf '%14s\n' "output MB"
for tool in "${tools[@]}"; do
  [ -n "${bytes[$tool]:-}" ] || continue
  printf '%-16s' "$tool"
  for cores in $cores_list; do
    r=${rate[$tool-$cores]:-}
    s=${rate[sharp-$cores]:-}
    ratio=$([ -n "$r" ] && [ -n "$s" ] && awk -v a="$r" -v b="$s" 'BEGIN { printf "%.2f", a / b }' || echo -)
    printf '%14s%14s' "${r:--}" "$ratio"
  done
  for cores in $cores_list; do printf '%14s' "${rss[$tool-$cores]:--}"; done
  printf '%14s\n' "${bytes[$tool]}"
done

if [ -z "${SKIP_QUALITY:-}" ] && "$python" -c 'import numpy, PIL' 2> /dev/null; then
  first=${cores_list%% *}
  dirs=()
  for tool in "${tools[@]}"; do [ -d "$out/$tool-$first/resized" ] && dirs+=("$out/$tool-$first"); done
  echo
  echo "SSIM of resized/ vs float Lanczos3 reference (luma):"
  QUALITY_VERBOSE=${QUALITY_VERBOSE:-} "$python" "$here/quality.py" "$corpus" resized "${dirs[@]}"
fi
