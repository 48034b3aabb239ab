#!/usr/bin/env bash
# Build the GPU kit here, for a lent GPU machine that has no package registry:
# every package of tools/gpu/kit_packages.txt as a wheel for the target Python
# (manylinux x86_64), pure-Python sdists built into wheels here, and the mmcv
# sdist that tools/gpu/run.sh compiles there. Writes manifest.json and
# SHA256SUMS; refuses a kit over 60 MiB (the device carries 64 MiB in all).
# Reused as it is when it already holds this list, checksums intact.
#
#   tools/gpu/prepare.sh                        # .gpu-kit/cp312, for the device
#   tools/gpu/prepare.sh --python-version 3.11  # .gpu-kit/cp311, a local proof
#   tools/gpu/prepare.sh --force                # rebuild
#
# Needs pip with registry access, and torch + setuptools in $PYTHON (the sam2
# wheel is built without build isolation, which would download torch).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python}
PACKAGES=$REPO_ROOT/tools/gpu/kit_packages.txt
PY_VERSION=3.12
KIT=
FORCE=0
MAX_MIB=60
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64
           manylinux2014_x86_64 manylinux1_x86_64)

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while [ $# -gt 0 ]; do
  case $1 in
    --python-version) PY_VERSION=$2; shift 2 ;;
    --kit) KIT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prepare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ ! $PY_VERSION =~ ^3\.[0-9]+$ ]]; then
  echo "prepare.sh: --python-version wants MAJOR.MINOR (e.g. 3.12), got '$PY_VERSION'" >&2
  exit 2
fi
KIT=${KIT:-$REPO_ROOT/.gpu-kit/cp${PY_VERSION/./}}
say() { printf '[prepare] %s\n' "$*"; }

# What this kit is built from: reused only when that is unchanged.
request() {
  echo "python $PY_VERSION, platforms ${PLATFORMS[*]}"
  grep -v '^\s*#' "$PACKAGES" | sed '/^\s*$/d'
}
packages_of_kind() { request | awk -v kind="$1" '$1 == kind { print $2 }'; }

if [ "$FORCE" = 0 ] && [ -f "$KIT/request.txt" ] &&
   diff -q <(request) "$KIT/request.txt" >/dev/null &&
   (cd "$KIT" && sha256sum -c --quiet SHA256SUMS); then
  say "reusing $KIT ($(du -sh "$KIT" | cut -f1); same package list, checksums intact)"
  exit 0
fi

PARTIAL=$KIT.partial
rm -rf "$PARTIAL"
mkdir -p "$PARTIAL/wheels" "$PARTIAL/sdists"
PIP=("$PYTHON" -m pip)

say "wheels for cp${PY_VERSION/./}"
mapfile -t WHEELS < <(packages_of_kind wheel)
"${PIP[@]}" download --no-deps --only-binary=:all: --implementation cp \
  --python-version "$PY_VERSION" "${PLATFORMS[@]/#/--platform=}" \
  -d "$PARTIAL/wheels" "${WHEELS[@]}"

say "pure-Python wheels built from sdists (sam2 without its CUDA extension)"
mapfile -t BUILDS < <(packages_of_kind build)
SAM2_BUILD_CUDA=0 "${PIP[@]}" wheel --no-deps --no-binary=:all: \
  --no-build-isolation -w "$PARTIAL/wheels" "${BUILDS[@]}"

say "sdists compiled on the device"
mapfile -t SDISTS < <(packages_of_kind sdist)
"${PIP[@]}" download --no-deps --no-binary=:all: --no-build-isolation \
  -d "$PARTIAL/sdists" "${SDISTS[@]}"

say "manifest"
"$PYTHON" "$REPO_ROOT/tools/gpu/kit_manifest.py" "$PARTIAL" "$PACKAGES" \
  --python-version "$PY_VERSION" --max-mib "$MAX_MIB"
request > "$PARTIAL/request.txt"
rm -rf "$KIT"
mv "$PARTIAL" "$KIT"
say "kit ready: $KIT ($(du -sh "$KIT" | cut -f1))"
