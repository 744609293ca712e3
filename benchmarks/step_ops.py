"""Host work per optimizer step: dispatched operations and time, the trainer against the base.

    python benchmarks/step_ops.py                       # full module tree at tiny widths, 256x384
    python benchmarks/step_ops.py --model demo --steps 4
    python benchmarks/step_ops.py --bf16                # under bf16 autocast: what a GPU step dispatches

At tiny widths the arithmetic is negligible, so what a step costs is the host's work: one
Python-and-dispatcher trip per operation. On a GPU that work is what the GPU waits on when
it outruns the host (FIELD-NOTES: ~30 k kernels per practice step at 5-10 us each).

"real": the trainer's own loop in this process (`Loop.run` on a prepared run with the
practice preset: LoCon full dim 64, both text encoders, min-SNR, max-norm, shuffled captions),
every operation dispatched to ATen counted between two `train.step` events, by name.
"base": the same model with no adapter, forward and backward through the same UNet and text
encoders (their first layers the only trained weights, so backward crosses every layer) and
AdamW: the floor any adapter trainer stands on.

Counted and timed in separate passes (counting slows the step). Prints a table and the
operations that grew most; record it in docs/BENCHMARKS.md with the command.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_loop import ROOT, TRIGGER, frozen_base, prepare, resolution  # noqa: E402

sys.path.insert(0, str(ROOT))
from stylora_tui.run.layout import RunDir  # noqa: E402


class Counting(TorchDispatchMode):
    """Every ATen operation dispatched while active, by name (views and casts included)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.by_name[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def real_steps(run, warmup: int, steps: int, count: bool) -> tuple[list[float], list[float], collections.Counter]:
    """(wall s per step, CPU s per step, operations over the timed steps) of the real loop."""
    from stylora_tui.config.build import build_config
    from stylora_tui.config.toml_io import read_toml_file
    from stylora_tui.run import events as ev
    from stylora_tui.trainer.loop import Loop
    from stylora_tui.trainer.seams import Intents, Reporter, Signals
    from stylora_tui.trainer.session import open_session, out_of_the_collectors_way

    config = build_config(read_toml_file(run.path / "config.toml", "the run's config"))
    intents, reporter = Intents(run, Signals()), Reporter(None, None)
    session = open_session(run, config, intents, reporter)
    out_of_the_collectors_way()  # as the trainer's main does
    counting = Counting()
    marks: list[tuple[float, float, collections.Counter]] = []

    def heard(event) -> None:
        if isinstance(event, ev.TrainStep):
            marks.append((time.perf_counter(), time.process_time(), collections.Counter(counting.by_name)))

    reporter.listeners.append(heard)
    loop = Loop(session, intents, reporter)
    if count:
        with counting:
            loop.run()
    else:
        loop.run()
    timed = marks[warmup - 1 :] if warmup else marks
    wall = [b[0] - a[0] for a, b in zip(timed, timed[1:])]
    cpu = [b[1] - a[1] for a, b in zip(timed, timed[1:])]
    return wall, cpu, timed[-1][2] - timed[0][2]


def base_steps(run, warmup: int, steps: int, count: bool) -> tuple[list[float], list[float], collections.Counter]:
    from stylora_tui.config.build import build_config
    from stylora_tui.config.toml_io import read_toml_file
    from stylora_tui.dataset.synthetic import PRACTICE_TAGS
    from stylora_tui.trainer.session import compile_blocks, compiles, out_of_the_collectors_way, precision
    from stylora_tui.trainer.text import TextConditioner

    config = build_config(read_toml_file(run.path / "config.toml", "the run's config"))
    device, mixed, dtype = precision(config)
    base = frozen_base(config, train_te=True)
    if compiles(config):  # the same blocks compiled as in the real loop: like against like
        compile_blocks(base, train_te=True)
    trained = [
        base.unet.conv_in.weight,
        base.text_encoder.get_input_embeddings().weight,
        base.text_encoder_2.get_input_embeddings().weight,
    ]
    for parameter in trained:
        parameter.requires_grad_(True)
    base.unet.train()
    optimizer = torch.optim.AdamW(trained, lr=1e-6)
    conditioner = TextConditioner(
        base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2, config.captions.max_token_length, base.pad_id_2
    )
    width, height = config.resolution
    token_ids = conditioner.token_ids([", ".join([TRIGGER, *PRACTICE_TAGS[:8]])])
    rows = [conditioner.rows(token_ids[which], which, device) for which in (0, 1)]
    noisy = torch.randn(1, 4, height // 8, width // 8, device=device, dtype=dtype)
    noise = torch.randn_like(noisy)
    time_ids = torch.tensor([[height, width, 0, 0, height, width]], device=device, dtype=dtype)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=mixed != "no")

    def step() -> None:
        with autocast:
            states, pooled = [], None
            for which, encoder in enumerate((base.text_encoder, base.text_encoder_2)):
                output = encoder(rows[which], output_hidden_states=True)
                if which == 1:
                    pooled = output.text_embeds.view(1, conditioner.chunks, -1)[:, 0]
                states.append(output.hidden_states[-2].reshape(1, -1, output.hidden_states[-2].shape[-1]))
            hidden = torch.cat(states, dim=-1).to(dtype)
            prediction = base.unet(
                noisy, torch.tensor([500], device=device), hidden, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}
            ).sample
        torch.nn.functional.mse_loss(prediction.float(), noise.float()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    out_of_the_collectors_way()  # as the trainer does after its set-up: like against like
    counting = Counting()
    wall, cpu = [], []
    for index in range(warmup + steps):
        began, began_cpu = time.perf_counter(), time.process_time()
        if count and index == warmup:
            counting.__enter__()
        step()
        if index >= warmup:
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
    if count:
        counting.__exit__(None, None, None)
    return wall, cpu, counting.by_name


MEASURES = {"base": base_steps, "real": real_steps}


def as_on_a_gpu() -> None:
    """The trainer's precision as on a bf16 GPU, here on the CPU (where it trains in fp32):
    bf16 weights and autocast, so the count has the casts a GPU step has. The text
    encoders stay fp32 where they train on a CPU (both loops alike)."""
    from stylora_tui.trainer import session

    session.precision = lambda config: (torch.device("cpu"), "bf16", torch.bfloat16)


SCALED_DIM = {"full-tree": 6, "demo": 6, "mid": 26}  # 64 x (first width / 320)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="full-tree", help="full-tree (default), demo, mid, sdxl, or a model path")
    parser.add_argument("--resolution", type=resolution, default=(256, 384), help="WxH (default 256x384)")
    parser.add_argument("--preset", default="animagine-style", help="the practice's preset (default animagine-style)")
    parser.add_argument("--steps", type=int, default=20, help="steps timed, all rounds together (default 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--workdir", type=Path, help="keep models, data and runs here (default: a temporary folder)")
    parser.add_argument(
        "--dim",
        type=int,
        default=None,
        help="adapter rank (default: the preset's 64 scaled with the model's widths, 6 on full-tree; 64 on sdxl)",
    )
    parser.add_argument("--compile", action="store_true", help="training.compile = true: the same blocks compiled in both loops")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds, base then real in each (default 2)")
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="both loops under bf16 autocast, as on a GPU: the operations a GPU step dispatches (CPU bf16 times are not GPU times)",
    )
    parser.add_argument("--measure", choices=("base", "real"), help=argparse.SUPPRESS)  # internal: one pass
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        if args.bf16:
            as_on_a_gpu()
        wall, cpu, operations = MEASURES[args.measure](RunDir(args.run), args.warmup, args.steps, args.count)
        print(json.dumps({"wall": wall, "cpu": cpu, "operations": operations}))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="stylora-ops-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(work / "cache"))
    os.environ.setdefault("XDG_STATE_HOME", str(work / "state"))
    if args.dim is None and not args.measure:
        # The practice's rank 64 at SDXL's widths (320 at the first level) is ~5 % of the
        # adapted widths; at tiny widths the same share keeps the adapter's arithmetic as
        # small beside the base's as it is in the practice, so what is left is host work.
        args.dim = SCALED_DIM.get(args.model, 64)
    per_round = max(1, args.steps // args.rounds)
    counted, timed = (
        argparse.Namespace(**{**vars(args), "steps": 2}),
        argparse.Namespace(**{**vars(args), "steps": per_round}),
    )

    def measure(name: str, plan: argparse.Namespace, count: bool) -> dict:
        """One pass in a process of its own, as a user's trainer runs: nothing left over
        from the pass before (threads, caches, allocator state) lands on this one."""
        run = prepare(plan, work)
        command = [sys.executable, __file__, "--measure", name, "--run", str(run.path)]
        command += ["--warmup", str(args.warmup), "--steps", str(plan.steps)] + (["--count"] if count else [])
        command += ["--bf16"] if args.bf16 else []
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"the {name} pass failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows = {name: {"operations": collections.Counter(measure(name, counted, True)["operations"])} for name in MEASURES}
    # Timed passes alternate (base, real, base, real, ...) so a change in the machine's load
    # falls on both.
    for name in MEASURES:
        rows[name].update(wall=[], cpu=[])
    for _round in range(args.rounds):
        for name in MEASURES:
            result = measure(name, timed, False)
            rows[name]["wall"] += result["wall"]
            rows[name]["cpu"] += result["cpu"]
    width, height = args.resolution
    timed_steps = per_round * args.rounds
    print(
        f"model {args.model}, {width}x{height}, preset {args.preset} at rank {args.dim}{', compiled blocks' if args.compile else ''}"
        f"{', bf16 autocast' if args.bf16 else ''}, {timed_steps} steps timed in {args.rounds} "
        f"alternating rounds after {args.warmup} each, CPU ({os.cpu_count()} cores)"
    )
    print("| loop | operations/step | casts+copies/step | s/step (median) | ratio | p10–p90 | CPU s/step |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base_wall = statistics.median(rows["base"]["wall"])
    for name, row in rows.items():
        per = sum(row["operations"].values()) / counted.steps
        casts = sum(n for op, n in row["operations"].items() if op in ("_to_copy", "copy_")) / counted.steps
        wall = sorted(row["wall"])
        spread = f"{wall[len(wall) // 10]:.3f}–{wall[(len(wall) * 9) // 10]:.3f}"
        print(
            f"| {name} | {per:,.0f} | {casts:,.0f} | {statistics.median(wall):.3f} | "
            f"{statistics.median(wall) / base_wall:.2f}x | {spread} | {statistics.median(row['cpu']):.3f} |"
        )
    grown = rows["real"]["operations"] - rows["base"]["operations"]
    print("\nthe operations the real step adds, per step:")
    for op, n in grown.most_common(12):
        print(f"  {op:<28} {n / counted.steps:>8,.0f}")


if __name__ == "__main__":
    main()
