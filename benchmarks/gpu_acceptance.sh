#!/usr/bin/env bash
# Everything a GPU machine is lent for, in one command (aim: under 8 minutes on one H100),
# in the order the estimates need it (a call cut short keeps what came first):
#   1. the GPU-only tests (pytest -m gpu: bf16 with random crops, no host sync in the step);
#   2. the loop benchmark on a full-size SDXL with random weights (fp16, as released) at
#      1024x1536, bf16: the trainer against the bare loop, alternating rounds;
#   3. a 50-step practice run at that size, then its step time, peak VRAM and NVML readings
#      against what forecast/estimates.py predicted (benchmarks/estimates_check.py), at
#      batch 1 and at batch 2 (what a larger batch buys, as forecast/batch.py estimates it);
#   4. the optimizer's part of a step on the practice's adapter (dim 64), per tensor
#      against flat (benchmarks/optimizer_step.py);
#   5. the loop benchmark with compiled blocks (whether training.compile "auto" turns on);
# all written to one file (default gpu-acceptance.md). Copy its tables into
# docs/BENCHMARKS.md and correct EFFICIENCY / STEP_OVERHEAD_S / the memory model from it.
#
#   bash benchmarks/gpu_acceptance.sh                 # on the GPU machine
#   bash benchmarks/gpu_acceptance.sh --dry-run       # anywhere: the demo model, a few CPU steps
#   bash benchmarks/gpu_acceptance.sh --out FILE --workdir DIR
#
# The dry run checks the plumbing (the suite runs it), not the figures. A lent machine has
# no package index: benchmarks/device_wheels.sh prepares what its image lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python
out=gpu-acceptance.md
work=
dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry=1 ;;
        --out) out=$2; shift ;;
        --workdir) work=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_acceptance.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
work=${work:-$(mktemp -d -t stylora-acceptance-XXXXXX)}
mkdir -p "$work"
if [ "$dry" = 1 ]; then
    model=demo resolution=128x192 loop_steps=2 rounds=1 run_steps=5 dim=4
else
    if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo "gpu_acceptance.sh: torch sees no CUDA GPU here; run it on the GPU machine, or --dry-run" >&2
        exit 1
    fi
    model=sdxl resolution=1024x1536 loop_steps=20 rounds=2 run_steps=50 dim=64
fi
export XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state"

# Each section says when it began: a call cut short shows where the minutes went.
section() { printf '\n## %s\n\n(began %d s into the script)\n\n' "$1" "$SECONDS" >> "$out"; }
# A benchmark's table goes to the file, its progress and errors to a log: on failure the
# log's tail says why.
run() {
    if ! "$@" 2>>"$work/acceptance.log"; then
        echo "gpu_acceptance.sh: failed: $*" >&2
        tail -n 30 "$work/acceptance.log" >&2
        exit 1
    fi
}
{
    echo "# GPU acceptance, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $("$python" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU (dry run)")')"
    echo "- torch $("$python" -c 'import torch; print(torch.__version__)'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- command: bash benchmarks/gpu_acceptance.sh $([ "$dry" = 1 ] && echo --dry-run)"
} > "$out"

section "GPU tests (pytest -m gpu)"
set +e
"$python" -m pytest -q -m gpu -p no:cacheprovider tests/trainer/test_cuda.py > "$work/gpu-tests.log" 2>&1
tests=$?
tail -n 5 "$work/gpu-tests.log" >> "$out"
set -e
# 5: every test deselected or skipped, as on a machine without a GPU.
if [ "$tests" != 0 ] && ! { [ "$dry" = 1 ] && [ "$tests" = 5 ]; }; then
    echo "gpu_acceptance.sh: the GPU tests failed (exit $tests); see $out" >&2
    failed=1
fi

# One work folder for every benchmark below, so the full-size model is built once. Ordered
# by what the estimates need most: a call cut short by its time limit keeps what came first.
bench="$work/bench"
newest_run() { ls -d "$bench"/runs/*/ | sort -V | tail -n 1; }

section "Loop benchmark: $model at $resolution, real against bare"
run "$python" benchmarks/train_loop.py --model "$model" --resolution "$resolution" --steps "$loop_steps" \
    --rounds "$rounds" --workdir "$bench" >> "$out"

section "Practice run: $run_steps steps, against the estimates"
run "$python" benchmarks/train_loop.py --model "$model" --resolution "$resolution" --steps $((run_steps - 2)) \
    --rounds 1 --warmup 2 --real-only --workdir "$bench" > "$work/run-table.md"
run "$python" benchmarks/estimates_check.py "$(newest_run)" >> "$out"

# What a batch of 2 buys (forecast/batch.py offers larger batches from the estimates: the
# per-step overhead shared by the batch); its s/step against batch 1's above.
section "Practice run at batch 2: $run_steps steps, against the estimates"
run "$python" benchmarks/train_loop.py --model "$model" --resolution "$resolution" --steps $((run_steps - 2)) \
    --rounds 1 --warmup 2 --batch-size 2 --real-only --workdir "$bench" > "$work/run-batch2-table.md"
run "$python" benchmarks/estimates_check.py "$(newest_run)" >> "$out"

section "Optimizer step: the $model adapter at dim $dim, per tensor against flat"
run "$python" benchmarks/optimizer_step.py --model "$model" --dim "$dim" --steps 20 >> "$out"

# Last, as the longest (each process compiles first) and the least needed: whether
# training.compile "auto" should turn on. One round: the eager rows above are the baseline.
section "Loop benchmark: $model at $resolution, compiled blocks (training.compile = true)"
run "$python" benchmarks/train_loop.py --model "$model" --resolution "$resolution" --steps "$loop_steps" \
    --rounds 1 --compile --workdir "$bench" >> "$out"

printf '\n(all done in %d s)\n' "$SECONDS" >> "$out"
echo "gpu_acceptance.sh: wrote $out"
exit "${failed:-0}"
