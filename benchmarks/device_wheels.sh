#!/usr/bin/env bash
# The packages a lent GPU machine lacks, as wheels fetched here (it reaches no package index)
# and carried there, so its first command runs the acceptance script instead of failing on
# `import diffusers`. Its image has Python 3.12 with torch, transformers, accelerate,
# safetensors, huggingface_hub, onnxruntime, numpy, rich, pillow, nvidia-ml-py, tokenizers and
# pytest; what stylora-tui needs beyond those is pure Python, one set of wheels for any
# Linux. Nothing the image has is replaced: its torch and CUDA libraries are the ones to test.
#
#   bash benchmarks/device_wheels.sh              # here: the wheels into .device-wheels/ (git-ignored)
#   bash benchmarks/device_wheels.sh --install    # there: install them and stylora-tui (editable), no index
#
# On the GPU machine, in one call of the device tool (carry [".device-wheels"]):
#   bash benchmarks/device_wheels.sh --install && PYTHON=python3 bash benchmarks/gpu_acceptance.sh \
#       --out "$OUT/gpu-acceptance.md" --workdir /tmp/acceptance
set -euo pipefail
cd "$(dirname "$0")/.."
folder=.device-wheels
# What the image lacks: the trainer's libraries, the light side the package imports, and
# the dependencies of both that are not in the image.
packages=(diffusers importlib_metadata lycoris-lora toml textual mdit-py-plugins platformdirs textual-image tomlkit prodigyopt)
case "${1:-}" in
    "")
        python=${PYTHON:-.venv/bin/python}
        rm -rf "$folder"
        "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation py --dest "$folder" "${packages[@]}"
        ls "$folder"
        ;;
    --install)
        python=${PYTHON:-python3}
        if ! ls "$folder"/*.whl >/dev/null 2>&1; then
            echo "device_wheels.sh: no wheels in $folder: run \`bash benchmarks/device_wheels.sh\` where there is a package index, and carry $folder" >&2
            exit 1
        fi
        "$python" -m pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall "$folder"/*.whl
        # stylora-tui itself, editable: the trainer processes it launches from other folders
        # import this tree, as the tests do.
        "$python" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-build-isolation -e .
        "$python" -c 'import diffusers, lycoris, textual, tomlkit, stylora_tui, torch; print("device wheels: diffusers", diffusers.__version__, "torch", torch.__version__)'
        ;;
    -h|--help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        echo "device_wheels.sh: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
esac
