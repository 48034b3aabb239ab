#!/usr/bin/env bash
# Install the pinned OpenMMLab stack for fusionsam_mmseg into the active Python.
# Idempotent: every step is skipped when what it installs is already importable
# at the pinned version. Run through `make install`.
set -euo pipefail

PYTHON=${PYTHON:-python}
PIP="$PYTHON -m pip"
TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0

say() { printf '\n[install] %s\n' "$*"; }
py_ok() { "$PYTHON" -c "$1" >/dev/null 2>&1; }

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
say "Python: $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
if ! py_ok 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12)'; then
  echo "[install] ERROR: fusionsam_mmseg supports Python 3.10-3.12 (torch ${TORCH_VERSION} wheels and the mmcv ${MMCV_VERSION} build); found $("$PYTHON" --version 2>&1). Activate a supported interpreter and re-run 'make install'." >&2
  exit 1
fi

if (cd /tmp && "$PYTHON" "$REPO_ROOT/tools/install/check_stack.py" "$REPO_ROOT"); then
  say "pinned stack and fusionsam_mmseg (from $REPO_ROOT) already installed; nothing to do"
  exit 0
fi

if py_ok 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)'; then
  say "torch: keeping the installed CUDA build $("$PYTHON" -c 'import torch; print(torch.__version__)')"
elif py_ok "import torch; assert torch.__version__.split('+')[0] == '${TORCH_VERSION}'"; then
  say "torch ${TORCH_VERSION}: already installed"
else
  say "torch ${TORCH_VERSION}: installing (pinned; an unpinned torch would pull the CUDA wheels)"
  $PIP install "torch==${TORCH_VERSION}"
fi

say "build tools and pinned runtime libraries"
# setuptools<81 still ships pkg_resources (mmcv's setup.py imports it);
# >=77.0.3 is torch's own requirement.
$PIP install "setuptools>=77.0.3,<81" wheel ninja "numpy>=1.26,<2" "opencv-python>=4.8,<4.12"

if py_ok "import mmcv, mmcv.ops; assert mmcv.__version__ == '${MMCV_VERSION}'"; then
  say "mmcv ${MMCV_VERSION} with ops: already installed"
else
  say "mmcv ${MMCV_VERSION}: building from source with ops (about 15 min on 2 cores the first time; pip's wheel cache makes re-runs fast)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" $PIP install --no-build-isolation "mmcv==${MMCV_VERSION}"
  py_ok 'import mmcv.ops' || { echo "[install] ERROR: mmcv was installed but 'import mmcv.ops' fails; see the build log above." >&2; exit 1; }
fi

say "OpenMMLab packages, segment-anything, and seaborn for mmseg's analyze_logs.py"
# numpy stays pinned below 2 (mmcv 2.1 is built against it); pandas 2.2 is
# the newest that accepts numpy 1.x (a plain `pip install seaborn` would pull
# pandas 3 and numpy 2).
$PIP install "mmengine==0.10.7" "mmsegmentation==1.2.2" "mmpretrain==1.2.0" \
  "segment-anything==1.0" "torchmetrics==1.9.0" ftfy regex pytest "pytest-xdist==3.8.0" \
  "numpy>=1.26,<2" "pandas>=2.1,<2.3" "seaborn==0.13.2"
if py_ok "import sam2, hydra, iopath; from importlib.metadata import version; assert version('sam2') == '1.1.0'"; then
  say "sam2 1.1.0 (SAM2 baselines): already installed"
else
  say "sam2 1.1.0 (SAM2 baselines), without its CUDA extension and its torchvision requirement"
  SAM2_BUILD_CUDA=0 $PIP install --no-deps --no-build-isolation "sam2==1.1.0"
  $PIP install hydra-core iopath tqdm
fi
if py_ok "from importlib.metadata import version as v; assert [v(p) for p in ('onnx', 'onnxscript', 'onnx-ir', 'onnxruntime')] == ['1.23.1', '0.7.2', '1.0.0', '1.23.2']"; then
  say "onnx 1.23.1, onnxscript 0.7.2, onnx-ir 1.0.0, onnxruntime 1.23.2: already installed"
else
  say "ONNX export and runtime of the SAGE student (tools/deployment): onnxscript and onnx-ir are torch ${TORCH_VERSION}'s exporter; onnxruntime 1.23.2 is the newest with Python 3.10-3.12 wheels"
  $PIP install "onnx==1.23.1" "onnxscript==0.7.2" "onnx-ir==1.0.0" "onnxruntime==1.23.2" "numpy>=1.26,<2"
fi
if py_ok 'import torchvision'; then
  echo "[install] WARNING: torchvision is importable; fusionsam_mmseg never needs it and the CPU torch ${TORCH_VERSION} build has no working torchvision." >&2
fi

say "fusionsam_mmseg (editable)"
$PIP install --no-deps --no-build-isolation -e "$REPO_ROOT"
say "done: $("$PYTHON" -c 'import torch, mmcv, mmengine, mmseg; print("torch", torch.__version__, "| mmcv", mmcv.__version__, "| mmengine", mmengine.__version__, "| mmseg", mmseg.__version__)')"
