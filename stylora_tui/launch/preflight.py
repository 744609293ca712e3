"""Pre-flight: what would fail or waste hours, found before the trainer starts or a model loads.

An optimizer whose package is missing, or one that needs CUDA on a machine without a GPU
(AdamW8bit: the most common kohya presets use it), would fail minutes into a run; a real
SDXL on a CPU would take days. The machine is described by NVML (no torch: the wizard and
`plan` stay fast; `integrations.nvml.this_machine`), and passed in, so tests describe any
machine they like.
"""

from __future__ import annotations

import importlib.util

from stylora_tui.config.schema import Config
from stylora_tui.findings import Finding, Severity
from stylora_tui.forecast.estimates import checkpointing, human, step_tflop
from stylora_tui.integrations import notify
from stylora_tui.integrations.machine import Machine
from stylora_tui.model.hashes import DEMO

# Sustained fp32 throughput of one modern server core (AVX-512 FMA, well fed): a rough,
# generous figure; a CPU estimate is meant to say "days", not to be precise.
CPU_CORE_TFLOPS = 0.05

OPTIMIZER_PACKAGES = {"AdamW8bit": ("bitsandbytes", "bitsandbytes"), "Prodigy": ("prodigyopt", "prodigyopt")}
NEEDS_CUDA = {"AdamW8bit"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check(config: Config, machine: Machine, total_steps: int | None = None) -> list[Finding]:
    """Errors refuse the launch; `cpu-training` is an error until the user allows it."""
    findings: list[Finding] = []
    name = config.optimizer.name
    if name in NEEDS_CUDA and not machine.has_cuda:
        findings.append(
            Finding(
                Severity.ERROR,
                "optimizer-needs-cuda",
                f"optimizer {name} needs an NVIDIA GPU with CUDA, and this machine has none",
                'use optimizer.name = "AdamW" here (--set optimizer.name=AdamW), or train on a GPU machine',
                "optimizer.name",
            )
        )
    elif name in OPTIMIZER_PACKAGES and not _installed(OPTIMIZER_PACKAGES[name][0]):
        package = OPTIMIZER_PACKAGES[name][1]
        findings.append(
            Finding(
                Severity.ERROR,
                "optimizer-missing",
                f"optimizer {name} needs the {package} package, which is not installed",
                f"run `make install` on the GPU machine (it installs {package}), or `pip install {package}`; "
                'or use optimizer.name = "AdamW"',
                "optimizer.name",
            )
        )
    if machine.has_cuda and len(machine.gpus) < config.training.gpus:
        findings.append(
            Finding(
                Severity.ERROR,
                "not-enough-gpus",
                f"training.gpus = {config.training.gpus}, but this machine has {len(machine.gpus)} NVIDIA GPU(s)",
                f"set training.gpus = {max(1, len(machine.gpus))} (--set training.gpus={max(1, len(machine.gpus))})",
                "training.gpus",
            )
        )
    if config.model.path != DEMO and not machine.has_cuda:
        findings.append(
            Finding(
                Severity.ERROR,
                "cpu-training",
                f"no NVIDIA GPU found: this run would train on the CPU{cpu_duration(config, machine, total_steps)}",
                "train on a GPU machine; to start here anyway, pass --allow-cpu (the wizard asks)",
                "model.path",
            )
        )
    notify_problem = notify.url_problem(config.notify.url)
    if notify_problem:  # the config's address is checked with the config; this is the environment's
        findings.append(
            Finding(
                Severity.ERROR,
                "notify-url",
                f"{notify_problem}: the end-of-run notification could not be sent",
                f'write a full http(s) address (export {notify.ENV_URL}="https://ntfy.sh/my-topic"), or unset it',
                "notify.url",
            )
        )
    return findings


def step_seconds_on_cpu(config: Config, machine: Machine) -> float:
    return step_tflop(config, checkpointing(config, None)) / (CPU_CORE_TFLOPS * machine.cpu_cores)


def cpu_duration(config: Config, machine: Machine, total_steps: int | None) -> str:
    seconds = step_seconds_on_cpu(config, machine)
    per_step = f"about {_short_duration(seconds)} per step on {machine.cpu_cores} cores"
    if not total_steps:
        return f" ({per_step})"
    return f": {total_steps} steps at {per_step}, about {human(seconds * total_steps)} in all"


def _short_duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def refuse(findings: list[Finding], allow_cpu: bool = False) -> None:
    """Raise PreflightError naming every blocking finding (all of them, not the first)."""
    from stylora_tui.errors import PreflightError

    blocking = [f for f in findings if f.severity is Severity.ERROR and not (allow_cpu and f.code == "cpu-training")]
    if not blocking:
        return
    first = blocking[0]
    more = "".join(f"\n  also: {f.message} ({f.hint})" for f in blocking[1:])
    raise PreflightError(f"{first.message}{more}", first.hint, tuple(blocking))
