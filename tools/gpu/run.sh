#!/usr/bin/env bash
# The GPU kit, device side: every speed claim measured in one call of a lent
# GPU machine (no package registry there). Run from the carried tree:
#
#   bash tools/gpu/run.sh               # on the GPU machine; kit: .gpu-kit/cp312
#   bash tools/gpu/run.sh --cpu-smoke   # here: every part at tiny sizes, on
#                                       # the installed stack (the suite's test)
#
# On the device it checks the kit's checksums, installs its pins offline
# (pip --no-index --find-links KIT/wheels --no-deps) into a prefix put on
# PYTHONPATH (the image's torch, numpy 2 and opencv stay), compiles mmcv
# with CPU ops only
# (MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=16, niced, in the background: its
# setup.py builds the CUDA ops whenever torch sees a GPU, so CUDA is hidden
# from it), then runs tools/gpu/measure_part.py, one process per part, each
# under its own time budget, all inside --deadline-s:
#   encoder              (a) SAM ViT-H/B/L encoder at 1024, stock fp32 vs ours
#                            (beside the mmcv build: needs torch only)
#   fusionsam_train      (b) FusionSAM ViT-H paper config, 20 training iters
#   memorysam_train      (c) MemorySAM Hiera-B+ DELIVER RGB-D-E-L, 10 iters
#   fusionsam_inference  (d) FusionSAM ViT-H inference at 480x640
# and writes to $OUT (or --out DIR): gpu_kit.json, gpu_kit.md, gpu_kit.log.
# Exit status 0 when every step and part is ok.
#
# The installed stack stays in --prefix (default .gpu-kit/installed, git-
# ignored): a rerun on the still-warm machine reuses it when it was installed
# from the same kit, and goes straight to the parts.
#
# Options: --out DIR; --kit DIR; --deadline-s S (default 540, smoke 600);
# --parts a,b (names above; default all); --serial-build (compile mmcv before
# part (a), not beside it); --prefix DIR (where the kit is installed;
# --cpu-smoke runs on what it holds, default nothing: the installed stack);
# --install-only (install, compile mmcv and import the stack, no part: the
# local proof of the offline install, with PYTHON=<a fresh venv's python>
# and MAX_JOBS=<cores>).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"
export PYTHON=${PYTHON:-python3}
MODE=device
OUT_DIR=${OUT:-$REPO_ROOT/work_dirs/gpu_kit}
export KIT=$REPO_ROOT/.gpu-kit/cp312
DEADLINE_S=
OVERLAP_BUILD=1
INSTALL_ONLY=0
PREFIX=
ALL_PARTS=encoder,fusionsam_train,memorysam_train,fusionsam_inference
PARTS=$ALL_PARTS
RESERVE_S=15  # kept back for the report
export MAX_JOBS=${MAX_JOBS:-16}

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while [ $# -gt 0 ]; do
  case $1 in
    --cpu-smoke) MODE=cpu-smoke; shift ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --kit) KIT=$2; shift 2 ;;
    --deadline-s) DEADLINE_S=$2; shift 2 ;;
    --serial-build) OVERLAP_BUILD=0; shift ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    --parts) PARTS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for name in ${PARTS//,/ }; do
  if [[ ,$ALL_PARTS, != *,$name,* ]]; then
    echo "run.sh: --parts: '$name' is not one of $ALL_PARTS" >&2; exit 2
  fi
done
if [ "$MODE" = cpu-smoke ]; then
  DEADLINE_S=${DEADLINE_S:-600}
else
  DEADLINE_S=${DEADLINE_S:-540}
  PREFIX=${PREFIX:-$REPO_ROOT/.gpu-kit/installed}
fi
KIT=$(cd "$KIT" 2>/dev/null && pwd || echo "$KIT")

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
export WORK; WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export SITE=${PREFIX:-$WORK/site}
LOG=$OUT_DIR/gpu_kit.log
: > "$LOG"
START=$(date +%s.%N)

say() { printf '[gpu-kit %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG"; }
elapsed_s() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
left_s() { awk -v d="$DEADLINE_S" -v e="$(elapsed_s)" -v r="$RESERVE_S" 'BEGIN { printf "%d", d - e - r }'; }

# step NAME BUDGET_S COMMAND...: COMMAND under min(BUDGET_S, time left),
# its output in $WORK/NAME.log (appended to gpu_kit.log at its end); one
# line in $WORK/steps.tsv. Returns COMMAND's exit status.
step() {
  local name=$1 budget=$2 left t0 rc seconds
  shift 2
  left=$(left_s)
  if (( left < budget )); then budget=$left; fi
  if (( budget < 10 )); then
    printf '%s\tskipped\t0\t%s\n' "$name" "$budget" >> "$WORK/steps.tsv"
    say "$name: skipped (${left}s left before the deadline)"
    return 1
  fi
  say "$name: start, budget ${budget}s"
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$budget" "$@" > "$WORK/$name.log" 2>&1
  rc=$?
  seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$seconds" "$budget" >> "$WORK/steps.tsv"
  { echo "----- $name (exit $rc, ${seconds}s) -----"; cat "$WORK/$name.log"; } >> "$LOG"
  say "$name: exit $rc after ${seconds}s"
  return $rc
}

# pip with no index, no configured links and no cache.
offline_pip() {
  env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
    PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$PYTHON" -m pip "$@" --no-index --no-deps --no-cache-dir
}

# The pins of the kit's packages of KIND (wheel, build, sdist).
kit_pins() { awk -v kind="$1" '$1 == kind { print $2 }' "$KIT/request.txt"; }

install_kit() {
  (cd "$KIT" && sha256sum -c --quiet SHA256SUMS) || {
    echo "kit $KIT: missing or checksums differ; run tools/gpu/prepare.sh here and carry it"; return 1; }
  offline_pip install --upgrade --target "$SITE" --find-links "$KIT/wheels" \
    $(kit_pins wheel) $(kit_pins build)
}

build_mmcv() {
  # ninja (MAX_JOBS parallel compiles) sits beside the interpreter
  PATH=$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')"):$PATH
  CUDA_VISIBLE_DEVICES= MMCV_WITH_OPS=1 FORCE_CUDA=0 PYTHONPATH=$SITE \
    nice -n "${BUILD_NICENESS:-0}" bash -c 'offline_pip wheel \
      --no-build-isolation --find-links "$KIT/sdists" -w "$WORK/mmcv" \
      $(kit_pins sdist)' &&
  offline_pip install --upgrade --target "$SITE" "$WORK"/mmcv/mmcv-*.whl &&
  PYTHONPATH=$SITE:$REPO_ROOT "$PYTHON" -c '
import mmcv, mmcv.ops, mmengine, mmseg, sam2.build_sam, torch
import fusionsam_mmseg
from fusionsam_mmseg.import_patches import import_segment_anything_modeling
import_segment_anything_modeling()
print("stack:", "torch", torch.__version__, "mmcv", mmcv.__version__,
      "mmengine", mmengine.__version__, "mmseg", mmseg.__version__)' &&
  cp "$KIT/SHA256SUMS" "$SITE/.installed-from-kit"
}
export -f offline_pip kit_pins install_kit build_mmcv

# the stack in $SITE came from this kit and built (an earlier run)
installed_from_kit() { cmp -s "$KIT/SHA256SUMS" "$SITE/.installed-from-kit"; }

part() {
  local name=$1 budget=$2
  [ "$INSTALL_ONLY" = 0 ] && [[ ,$PARTS, == *,$name,* ]] || return 0
  step "$name" "$budget" env PYTHONPATH="$SITE:$REPO_ROOT" PYTHONUNBUFFERED=1 \
    "$PYTHON" tools/gpu/measure_part.py "$name" --json "$WORK/$name.json" \
    ${SMOKE_FLAG:+"$SMOKE_FLAG"}
}

# The kit installed into $SITE, mmcv compiled beside part (a) (or before it).
setup_stack() {
  local build_pid
  step install 120 bash -c install_kit
  if [ "$INSTALL_ONLY" = 1 ]; then
    step mmcv_build "$(left_s)" bash -c build_mmcv
  elif [ "$OVERLAP_BUILD" = 1 ]; then
    BUILD_NICENESS=19 step mmcv_build 420 bash -c build_mmcv &
    build_pid=$!
    part encoder 240
    wait "$build_pid"
  else
    step mmcv_build 420 bash -c build_mmcv
    part encoder 240
  fi
}

say "mode $MODE, kit $KIT, out $OUT_DIR, deadline ${DEADLINE_S}s, work $WORK"
if [ "$MODE" = cpu-smoke ]; then
  SMOKE_FLAG=--smoke
  for name in encoder fusionsam_train memorysam_train fusionsam_inference; do
    part "$name" 150
  done
else
  SMOKE_FLAG=
  command -v nvidia-smi >/dev/null && nvidia-smi -L | tee -a "$LOG"
  say "$(nproc) CPU cores; $("$PYTHON" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)')"
  if installed_from_kit; then
    say "stack in $SITE installed from this kit by an earlier run: reused"
    printf '%s\treused\t0\t0\n' install mmcv_build >> "$WORK/steps.tsv"
    part encoder 240
  else
    setup_stack
  fi
  part fusionsam_train 150
  part memorysam_train 90
  part fusionsam_inference 60
fi

"$PYTHON" tools/gpu/write_report.py --work "$WORK" --out "$OUT_DIR" \
  --mode "$MODE" --deadline-s "$DEADLINE_S" --wall-s "$(elapsed_s)"
report_rc=$?
cat "$OUT_DIR/gpu_kit.md" 2>/dev/null
say "done in $(elapsed_s)s: $OUT_DIR/gpu_kit.json, gpu_kit.md, gpu_kit.log"
[ "$report_rc" = 0 ] &&
  awk -F '\t' '$2 != "0" && $2 != "reused" { bad = 1 } END { exit bad }' "$WORK/steps.tsv"
