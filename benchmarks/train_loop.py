"""The real trainer against the bare compute floor, side by side in one run.

    python benchmarks/train_loop.py --model mid              # this machine's CPU: the target is a ratio <= 1.10
    python benchmarks/train_loop.py --model sdxl --resolution 1024x1536   # a GPU: full-size SDXL, random weights
    python benchmarks/train_loop.py --model demo|full-tree|PATH

"real": the actual trainer process (`python -m stylora_tui.trainer RUN`) on a generated
dataset with the practice's preset (LoCon full dim 64, text encoders trained, shuffled
captions, min-SNR, max-norm, gradient checkpointing "auto"), stopped by max_steps; its
seconds per step come from the wall-clock gaps between its train.step events, so
everything between steps counts (data, captions, bookkeeping, events, status).
"bare": a separate process loading the same model and adapter with the same precision,
checkpointing and optimizer, then looping forward / backward / optimizer step on inputs
prepared before the loop (latents, noise, token ids), with nothing else.

The loops alternate, round by round (real, bare, real, bare: --rounds, 2 by default), each
round a fresh pair of processes, so a change in the machine's load falls on both; 20 steps
of each are timed by default, after --warmup untimed steps per round.

Prints seconds per step (the median, with the mean, the 10th-90th percentile spread and each
round's median beside it), the ratio of the medians, time from the process start to the
first step, peak RSS (and, for the real loop, the peak reached before its first step:
loading and latent caching) and peak VRAM of each process. The ratio is of medians because
on a shared machine single steps of either loop stall by up to a third at random; the mean
is printed so a slow step that recurs is still seen. The process CPU time per step (every
thread, median) is printed too: it moves less than wall time when the machine's other
tenants take cores from both loops in turn. Needs only `pip install .[train]`: nothing of
the test suite is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A mid-size SDXL-layout model (408 M UNet parameters, SDXL's is 2.6 B): SDXL's module tree
# and depths (2 and 10 transformer blocks) at 128/256/512 channels, so its compute dominates
# a CPU step the way the full model's dominates a GPU step; text encoders narrow, full depth.
MID_OVERRIDES = {
    "unet": {
        "block_out_channels": [128, 256, 512],
        "attention_head_dim": [2, 4, 8],
        "cross_attention_dim": 256 + 512,
        "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": 6 * 256 + 512,
    },
    "vae": {"block_out_channels": [32, 64, 128, 128]},
    "text_encoder": {"hidden_size": 256, "intermediate_size": 1024, "num_attention_heads": 4, "projection_dim": 256},
    "text_encoder_2": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8, "projection_dim": 512},
}
TRIGGER = "stylorabench"


def model_path(name: str, work: Path) -> str:
    from stylora_tui.trainer.demo_model import FULL_TREE_OVERRIDES, build_model

    if name == "demo":
        return "demo"
    overrides = {"full-tree": FULL_TREE_OVERRIDES, "mid": MID_OVERRIDES, "sdxl": {}}.get(name)
    if overrides is None:
        return str(Path(name).expanduser().absolute())
    folder = work / "models" / name
    if not (folder / "unet" / "diffusion_pytorch_model.safetensors").exists():
        print(f"building the {name} model (random weights) in {folder} ...", file=sys.stderr)
        import torch

        # Full size in fp16, as SDXL checkpoints are released: half the disk and loading
        # time, and the UNet in one file (fp32 would be sharded).
        build_model(folder, overrides, dtype=torch.float16 if name == "sdxl" else None)
    return str(folder)


def practice_dataset(folder: Path, count: int, size: tuple[int, int]) -> Path:
    # The tests' generator: distinct images with WD14-style captions, the trigger first.
    from stylora_tui.dataset.synthetic import write_practice_dataset

    if not folder.is_dir():
        write_practice_dataset(folder, count, size, trigger=TRIGGER)
    return folder


def prepare(args, work: Path):
    from stylora_tui.config.presets import preset_for
    from stylora_tui.integrations.nvml import this_machine
    from stylora_tui.launch.prepare import prepare_run

    width, height = args.resolution
    edits = {
        "model": {"path": model_path(args.model, work)},
        "dataset": {
            "path": str(practice_dataset(work / f"data-{width}x{height}", args.images, (width, height))),
            "resolution_px": [width, height],
            "repeats": 1,
        },
        "captions": {"trigger": TRIGGER},
        "training": {"max_steps": args.warmup + args.steps, "epochs": 1000, "batch_size": getattr(args, "batch_size", 1)},
        "saving": {"every_n_epochs": 0},
        "samples": {"every_n_epochs": 0},
    }
    if getattr(args, "compile", False):
        edits["training"]["compile"] = True
    if getattr(args, "dim", None):
        edits["network"] = {"dim": args.dim, "alpha": args.dim / 2, "conv_dim": args.dim, "conv_alpha": args.dim / 2}
    config = preset_for(None, args.preset, edits)
    return prepare_run(config, work / "runs", None, machine=this_machine(), allow_cpu=True).run


def peak_rss_mib(usage) -> float:
    return usage.ru_maxrss / 1024  # KiB on Linux


def step_times(durations: list[float]) -> dict:
    ordered = sorted(durations)
    return {
        "s_per_step": statistics.median(durations),
        "mean_s": statistics.mean(durations),
        "p10_s": ordered[len(ordered) // 10],
        "p90_s": ordered[(len(ordered) * 9) // 10],
    }


def merged(rounds: list[dict]) -> dict:
    """One loop's rounds together: the steps of all of them, the first round's start-up."""
    durations = [d for r in rounds for d in r["durations"]]
    cpu = [c for r in rounds for c in r["cpu"]]
    first = rounds[0]
    return {
        **first,
        **step_times(durations),
        "steps": len(durations),
        "round_medians": [statistics.median(r["durations"]) for r in rounds],
        "cpu_s_per_step": statistics.median(cpu) if cpu else None,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in rounds),
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far, every thread counted."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup_peak_mib(pid: int) -> float | None:
    """The process's peak RSS so far (VmHWM), read while it runs."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def real_loop(run, args) -> dict:
    from stylora_tui.run import events as ev
    from stylora_tui.run.event_log import EventTailer

    started = time.time()
    with open(run.path / "benchmark-trainer.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "stylora_tui.trainer", str(run.path)], cwd=ROOT, stdout=log, stderr=log)
        # Polled, not waited on: memory and CPU time are read as the steps pass, from the
        # events appended since the last look (the tailer reads only the new bytes).
        tailer, setup_peak, cpu_readings, seen = EventTailer(run.events), None, [], 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            new_steps = sum(1 for event in tailer.read_new() if isinstance(event, ev.TrainStep))
            if new_steps:
                seen += new_steps
                cpu_readings.append((seen, cpu_seconds(process.pid)))
                if setup_peak is None:
                    setup_peak = setup_peak_mib(process.pid)
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    events = [json.loads(line) for line in run.events.read_text().splitlines() if line.strip()]
    steps = [e for e in events if e["type"] == "train.step"]
    if process.returncode != 0 or len(steps) < args.warmup + args.steps:
        raise SystemExit(
            f"the trainer failed (exit {process.returncode}); see {run.path / 'benchmark-trainer.log'} and {run.events}"
        )
    started_event = next(e for e in events if e["type"] in ("run.started", "run.resumed"))
    memory = [e["memory_mib"] for e in steps if e.get("memory_mib") is not None]
    stamps = [e["ts"] for e in steps]
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    # CPU time per step between readings after the warm-up; a look that found two new steps
    # splits its time between them. Each reading is within 50 ms of its step's end.
    timed = [(count, cpu) for count, cpu in cpu_readings if count >= args.warmup and cpu is not None]
    cpu_per_step = [(later - earlier) / (n2 - n1) for (n1, earlier), (n2, later) in zip(timed, timed[1:])]
    return {
        "durations": gaps[max(args.warmup - 1, 0) :],
        "cpu": cpu_per_step,
        "first_step_s": stamps[0] - started,
        "peak_rss_mib": peak_rss_mib(usage),
        "setup_peak_rss_mib": setup_peak,
        "peak_vram_mib": max(memory) if memory else None,
        "gradient_checkpointing": started_event.get("gradient_checkpointing"),
        "device": started_event.get("device"),
    }


def frozen_base(config, train_te: bool):
    """The run's base model as the trainer places it, every weight frozen."""
    import torch

    from stylora_tui.model.files import resolve_prediction
    from stylora_tui.trainer.loading import Placement, load_base_model, vae_dtype_for
    from stylora_tui.trainer.session import precision

    device, _mixed, dtype = precision(config)
    text_dtype = torch.float32 if train_te and device.type == "cpu" else dtype
    base = load_base_model(
        config.model.path,
        config.model.vae,
        resolve_prediction(config.model.path, config.model.prediction_type, config.training.zero_terminal_snr),
        Placement(device, dtype, text_dtype, vae_dtype_for(dtype)),
    )
    for model in (base.unet, base.vae, base.text_encoder, base.text_encoder_2):
        model.requires_grad_(False)
    return base


def bare_loop(run_path: Path, warmup: int, steps: int) -> dict:
    """Runs in its own process (see --bare): the same model and adapter, no trainer."""
    started = time.time()
    import torch

    from stylora_tui.config.build import build_config
    from stylora_tui.config.toml_io import read_toml_file
    from stylora_tui.trainer.network import LoConNetwork
    from stylora_tui.trainer.optim import build_optimizer
    from stylora_tui.trainer.session import (
        compile_blocks,
        compiles,
        enable_checkpointing,
        out_of_the_collectors_way,
        precision,
    )
    from stylora_tui.trainer.text import TextConditioner

    config = build_config(read_toml_file(run_path / "config.toml", "the run's config"))
    tr, net = config.training, config.network
    device, mixed, dtype = precision(config)
    train_te = net.trains_text_encoders
    base = frozen_base(config, train_te)
    for model in (base.unet, base.vae, base.text_encoder, base.text_encoder_2):
        model.eval()
    torch.manual_seed(tr.seed)
    adapter = LoConNetwork(base.unet, base.text_encoder, base.text_encoder_2, net)
    adapter.apply_to()
    adapter.to(device, torch.float32)
    events = [json.loads(line) for line in (run_path / "events.jsonl").read_text().splitlines() if line.strip()]
    if next(e for e in events if e["type"] == "run.started")["gradient_checkpointing"]:
        enable_checkpointing(base, train_te)
    if compiles(config):
        compile_blocks(base, train_te)
    optimizer = build_optimizer(config, adapter.param_groups(config.optimizer.unet_lr, config.optimizer.text_encoder_lr), device)
    conditioner = TextConditioner(
        base.tokenizer, base.tokenizer_2, base.text_encoder, base.text_encoder_2, config.captions.max_token_length, base.pad_id_2
    )

    # Inputs prepared before the loop: what the real loop reads, draws and tokenises each step.
    # The generated images are exactly the training resolution: one bucket of that size.
    side = config.dataset.resolution_px
    width, height = (side, side) if isinstance(side, int) else side
    batch = tr.batch_size
    from stylora_tui.dataset.synthetic import PRACTICE_TAGS

    caption = ", ".join([TRIGGER, *PRACTICE_TAGS[:8]])
    token_ids = conditioner.token_ids([caption] * batch)
    rows = [conditioner.rows(token_ids[which], which, device) for which in (0, 1)]
    alphas = base.noise_scheduler.alphas_cumprod
    inputs = []
    for _ in range(warmup + steps):
        latents = torch.randn(batch, 4, height // 8, width // 8)
        noise = torch.randn_like(latents)
        a = alphas[torch.randint(0, 1000, (batch,))].view(batch, 1, 1, 1)
        inputs.append(
            (
                (a.sqrt() * latents + (1 - a).sqrt() * noise).to(device, dtype),
                noise.to(device),
                torch.randint(0, 1000, (batch,), device=device),
            )
        )
    time_ids = torch.tensor([[height, width, 0, 0, height, width]] * batch, device=device, dtype=dtype)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=mixed != "no")

    def encode():
        states, pooled = [], None
        for which, encoder in enumerate((base.text_encoder, base.text_encoder_2)):
            output = encoder(rows[which], output_hidden_states=True)
            if which == 1:
                pooled = output.text_embeds.view(batch, conditioner.chunks, -1)[:, 0]
            states.append(output.hidden_states[-2].reshape(batch, -1, output.hidden_states[-2].shape[-1]))
        return torch.cat(states, dim=-1).to(dtype), pooled.to(dtype)

    def step(noisy, noise, timesteps):
        with torch.set_grad_enabled(train_te), autocast:
            hidden, pooled = encode()
        with autocast:
            prediction = base.unet(
                noisy, timesteps, hidden, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}
            ).sample
        torch.nn.functional.mse_loss(prediction.float(), noise.float()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    out_of_the_collectors_way()  # as the trainer's main does after its set-up
    first, durations, cpu = None, [], []
    for index, args in enumerate(inputs):
        synchronize()  # each step timed whole, as the real loop's one read per step makes it
        began, began_cpu = time.perf_counter(), time.process_time()
        step(*args)
        synchronize()
        if index >= warmup:
            durations.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        if first is None:
            first = time.time() - started
    return {
        "durations": durations,
        "cpu": cpu,
        "first_step_s": first,
        "peak_rss_mib": peak_rss_mib(resource.getrusage(resource.RUSAGE_SELF)),
        "peak_vram_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }


def resolution(text: str) -> tuple[int, int]:
    sides = [int(s) for s in text.lower().replace(",", "x").split("x")]
    return (sides[0], sides[0]) if len(sides) == 1 else (sides[0], sides[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mid", help="demo, full-tree, mid, sdxl (random weights), or a model path")
    parser.add_argument("--resolution", type=resolution, default=(512, 512), help="WxH or one side (default 512)")
    parser.add_argument("--preset", default="animagine-style", help="the practice's preset (default animagine-style)")
    parser.add_argument("--steps", type=int, default=20, help="steps timed per loop, all rounds together (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds, real then bare in each (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="steps not timed at the start of each round (default 2)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1, help="images per step in both loops (default 1)")
    parser.add_argument("--compile", action="store_true", help="training.compile = true in both loops")
    parser.add_argument(
        "--real-only", action="store_true", help="the real loop alone: a practice run for estimates_check.py, no ratio"
    )
    parser.add_argument("--workdir", type=Path, help="keep models, data and runs here (default: a temporary folder)")
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # internal: the bare loop's own process
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare_loop(args.bare, args.warmup, args.steps)))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="stylora-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(work / "cache"))  # cold latent cache per workdir
    os.environ.setdefault("XDG_STATE_HOME", str(work / "state"))
    # Real and bare alternate, round by round (ABAB), so a change in the machine's load
    # (other tenants, thermal limits) falls on both rather than on whichever ran second.
    per_round = argparse.Namespace(**{**vars(args), "steps": max(1, args.steps // args.rounds)})
    reals, bares = [], []
    for _round in range(args.rounds):
        run = prepare(per_round, work)
        reals.append(real_loop(run, per_round))
        if args.real_only:
            continue
        command = [sys.executable, __file__, "--bare", str(run.path), "--warmup", str(args.warmup)]
        bare = subprocess.run(command + ["--steps", str(per_round.steps)], capture_output=True, text=True, cwd=ROOT)
        if bare.returncode != 0:
            raise SystemExit(f"the bare loop failed:\n{bare.stderr[-3000:]}")
        bares.append(json.loads(bare.stdout.strip().splitlines()[-1]))
    real, bare_result = merged(reals), merged(bares) if bares else None
    width, height = args.resolution
    print(
        f"model {args.model}, {width}x{height}, preset {args.preset}, device {real['device']}, "
        f"gradient checkpointing {'on' if real['gradient_checkpointing'] else 'off'}, "
        f"{'compiled blocks' if args.compile else 'eager'}, "
        f"{real['steps']} steps timed each, in {args.rounds} alternating rounds after {args.warmup} untimed"
    )
    print_table(real, bare_result)


def print_table(real: dict, bare_result: dict | None) -> None:
    """One row per loop; ratios against the bare loop where it ran."""

    def gib(mib):
        return f"{mib / 1024:.2f} GiB" if mib else "-"

    def cpu(result):
        if not result.get("cpu_s_per_step") or not bare_result or not bare_result.get("cpu_s_per_step"):
            return "- | -"
        return f"{result['cpu_s_per_step']:.2f} | {result['cpu_s_per_step'] / bare_result['cpu_s_per_step']:.2f}x"

    print(
        "| loop | s/step (median) | ratio | mean | p10–p90 | round medians | CPU s/step | CPU ratio | first step "
        "| peak RSS | before step 1 | peak VRAM |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = (("bare", bare_result), ("real", real)) if bare_result else (("real", real),)
    for name, result in rows:
        ratio = f"{result['s_per_step'] / bare_result['s_per_step']:.2f}x" if bare_result else "-"
        print(
            f"| {name} | {result['s_per_step']:.3f} | {ratio} | "
            f"{result['mean_s']:.3f} | {result['p10_s']:.3f}–{result['p90_s']:.3f} | "
            f"{' '.join(f'{m:.3f}' for m in result['round_medians'])} | {cpu(result)} | "
            f"{result['first_step_s']:.1f} s | {gib(result['peak_rss_mib'])} | {gib(result.get('setup_peak_rss_mib'))} | "
            f"{gib(result['peak_vram_mib'])} |"
        )


if __name__ == "__main__":
    main()
