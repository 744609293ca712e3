#!/usr/bin/env bash
# Create .venv and install stylora-tui with the trainer and test tools.
#
# torch: where a torch is already installed (a GPU rental's image), the venv sees it through
# --system-site-packages and a constraint pins it, so pip can never swap it for another
# build. Elsewhere the CPU build is installed with `pip install torch==2.13.0`; any other
# torch request on a machine without torch would pull several GB of CUDA packages.
#
# VENV=... and LOWEST=1 (`make test-lowest`) build a second environment with the lowest
# version of every dependency pyproject.toml allows (ci/lowest-constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  if "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "bootstrap: reusing the installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
    "$PY" -m venv --system-site-packages "$VENV"
  else
    "$PY" -m venv "$VENV"
  fi
fi
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  "$VENV/bin/pip" install --disable-pip-version-check -q "torch==2.13.0"
fi
"$VENV/bin/python" -c "import torch; print('torch==' + torch.__version__)" > "$VENV/constraints.txt"
if [ "${LOWEST:-0}" = 1 ]; then
  cat ci/lowest-constraints.txt >> "$VENV/constraints.txt"
fi
# AdamW8bit (the optimizer most kohya presets use) needs bitsandbytes, which needs CUDA:
# installed where an NVIDIA GPU is present.
EXTRAS="train,tag,dev"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  EXTRAS="$EXTRAS,adamw8bit"
fi
"$VENV/bin/pip" install --disable-pip-version-check -q -c "$VENV/constraints.txt" -e ".[$EXTRAS]"
# The mirror sends runs over ssh with the system rsync (and its tests use the real one):
# installed where missing and the package manager allows it, else said.
if ! command -v rsync >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get install -y -q rsync >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q rsync >/dev/null 2>&1; } \
      || true
  fi
  command -v rsync >/dev/null 2>&1 || echo "bootstrap: rsync is not installed; mirrors to user@host:path need it (apt-get install rsync)"
fi
echo "bootstrap: ready ($("$VENV/bin/stylora-tui" --version))"
