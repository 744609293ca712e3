"""The trainer process: one per run (one per GPU under `accelerate launch`), rank 0 holding
the run's lock. It wires the seams (signals and control files in; events and status out),
opens the session, runs the loop, and says how the run ended: finished, stopped, or failed
with a reason and a hint (the traceback goes to logs/trainer.log).
"""

from __future__ import annotations

import errno
import os
import threading
import traceback
from pathlib import Path

import torch

from stylora_tui.atomic import remove_stale
from stylora_tui.config.build import build_config
from stylora_tui.config.schema import Config
from stylora_tui.config.toml_io import read_toml_file
from stylora_tui.errors import StyloraError
from stylora_tui.integrations import notify
from stylora_tui.rental.meter import meter
from stylora_tui.rental.take_home import address_note, take_home
from stylora_tui.run import control
from stylora_tui.run import events as ev
from stylora_tui.run.event_log import EventWriter
from stylora_tui.run.layout import RunDir
from stylora_tui.run.status import FAILED, RUNNING, STOPPED, Status, StatusWriter, read_status
from stylora_tui.run.summary import newest_checkpoint_step
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer import faults
from stylora_tui.trainer.loop import Loop
from stylora_tui.trainer.rental import RentalSide
from stylora_tui.trainer.saves import disk_problem
from stylora_tui.trainer.seams import Intents, Reporter, Signals
from stylora_tui.trainer.session import StoppedBeforeTraining, open_session, out_of_the_collectors_way
from stylora_tui.trainer.watchdog import Watchdog

GPU_EVERY_S = 2.0


class SpaceReserve:
    """A small file held from the start and deleted when the run fails, so that a full disk
    still has room for the final event and status: the run ends `failed`, saying why,
    rather than looking `crashed`."""

    SIZE = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"\0" * self.SIZE)
        except OSError:
            path.unlink(missing_ok=True)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def main(run: RunDir, lock: int | None, rank: int = 0) -> int:
    """Rank 0 writes the events, status and files; other ranks (several GPUs) only train."""
    faults.point("trainer.start")
    signals = Signals()
    signals.install()
    events = EventWriter(run.events) if rank == 0 else None
    before = read_status(run.status_file)
    status = (
        StatusWriter(run.status_file, Status(state=RUNNING, pid=os.getpid(), price_per_hour=before.price_per_hour))
        if rank == 0
        else None
    )
    reporter = Reporter(events, status)
    reporter.earlier_s = before.elapsed_s  # a resumed run's meter goes on from there
    intents = Intents(run, signals, active=rank == 0)
    telemetry = reserve = config = None
    ending = Ending(run, reporter, lock)
    try:
        from stylora_tui.trainer.telemetry import GpuTelemetry

        if rank == 0:
            ckpt.remove_partial(run.checkpoints)
            for folder in (run.path, run.output, run.samples):
                remove_stale(folder, recursive=folder != run.path)
            reserve = SpaceReserve(run.logs / ".space-reserve")
            telemetry = GpuTelemetry(reporter, GPU_EVERY_S)
            telemetry.start()
        config = build_config(read_toml_file(run.config, "the run's config"), source=str(run.config))
        if rank == 0:
            ending.config, ending.rental = config, RentalSide(run, config, reporter)
            Watchdog(run, config, reporter, ending.wind_up)
        # Until training starts, `runs` shows the step a resume continues from.
        reporter.status(force=True, step=newest_checkpoint_step(run) or 0)
        try:
            session = open_session(run, config, intents, reporter)
        except StoppedBeforeTraining as stopped:
            # Nothing new to save; the stop is consumed here, or every later resume would
            # stop again at once.
            intents.consume(control.STOP)
            reporter.status(force=True, state=STOPPED, reason=stopped.reason)
            reporter.emit(ev.RunStopped(step=reporter.current.step if reporter.current else 0, reason=stopped.reason))
            return 0
        out_of_the_collectors_way()
        Loop(session, intents, reporter).run()
        return 0
    except Exception as exc:  # the run failed: say why in the events, keep the traceback in the log
        traceback.print_exc()
        if reserve is not None:
            reserve.release()  # a full disk must still take the final event and status
        reason, hint = failure(exc, config, run)
        try:
            reporter.emit(ev.RunFailed(reason=reason, hint=hint))
            reporter.status(force=True, state=FAILED, pid=os.getpid(), reason=reason, hint=hint)
        except OSError:
            traceback.print_exc()
        return 1
    finally:
        if reserve is not None:
            reserve.release()
        if telemetry is not None:
            telemetry.stop()
        ending.wind_up()
        if events is not None:
            events.close()


class Ending:
    """What follows the final event, once, whoever gets there first (the main thread, or the
    watchdog failing a stuck one): the webhook, the mirror's last send, the lock released,
    the machine dealt with."""

    def __init__(self, run: RunDir, reporter: Reporter, lock: int | None) -> None:
        self.run, self.reporter, self.lock = run, reporter, lock
        self.config: Config | None = None
        self.rental: RentalSide | None = None
        self.once = threading.Lock()
        self.done = False

    def wind_up(self) -> None:
        with self.once:
            if self.done:
                return
            self.done = True
        if self.config is not None and self.reporter.final is not None:
            announce(self.run, self.config, self.reporter)
        if self.rental is not None:
            self.rental.end(self.reporter.final, self.release_lock)
        self.release_lock()

    def release_lock(self) -> None:
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None


def announce(run: RunDir, config: Config, reporter: Reporter) -> None:
    """The webhook, when one is set: after the final event and status are on disk, so a
    slow or broken webhook delays nothing a viewer waits for; the outcome goes in the log."""
    url = notify.resolve_url(config.notify.url)
    if not url:
        return
    problem = notify.url_problem(config.notify.url)
    if problem:  # set in the environment after launch: said in the log, never sent
        reporter.emit(ev.Log(message=f"notification not sent: {problem}"))
        return
    final, current = reporter.final, reporter.current
    status = final.TYPE.removeprefix("run.")
    if isinstance(final, ev.RunFinished):
        output = run.path / final.output
    elif isinstance(final, ev.RunStopped) and final.checkpoint:
        output = run.path / final.checkpoint
    else:
        output = run.path
    step = getattr(final, "step", None) or (current.step if current else 0)
    ended = notify.RunEnded(
        run.name,
        status,
        step,
        current.total_steps if current else 0,
        reporter.train_s,
        str(output),
        getattr(final, "reason", ""),
        getattr(final, "hint", ""),
        suggested_line(reporter.suggested) if isinstance(final, ev.RunFinished) else "",
        cost_line(current),
        tuple(take_home(run.output)) if isinstance(final, ev.RunFinished) else (),
        address_note() if isinstance(final, ev.RunFinished) else "",
    )
    kind = notify.kind_of(url, config.notify.kind)
    problem = notify.send(url, kind, ended)
    reporter.emit(ev.Log(message=f"notification not sent: {problem}" if problem else f"notified the {kind} webhook"))


def cost_line(current: Status | None) -> str:
    found = meter(current.price_per_hour, current.elapsed_s, None) if current is not None else None
    return found.line() if found is not None else ""


def suggested_line(suggested: ev.AdapterSuggested | None) -> str:
    if suggested is None:
        return ""
    return f"{suggested.adapter} at strength {suggested.strength:g} ({suggested.why})"


def failure(exc: Exception, config: Config | None, run: RunDir) -> tuple[str, str]:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "CUDA out of memory", oom_hint(config) if config else "lower the batch size or resolution"
    if isinstance(exc, StyloraError):
        return exc.message, exc.hint
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_problem(exc), f"free disk space in {run.path.parent}, then `stylora-tui --resume {run.name}`"
    return f"{type(exc).__name__}: {exc}", "see logs/trainer.log for the traceback; resume with stylora-tui --resume once fixed"


def oom_hint(config: Config) -> str:
    tr = config.training
    lower = [
        f"training.batch_size (now {tr.batch_size})",
        f"dataset.resolution_px (now {config.dataset.resolution_px[0]}x{config.dataset.resolution_px[1]})",
    ]
    if tr.gradient_checkpointing is not True:
        lower.insert(0, "set training.gradient_checkpointing = true")
    lower.append(f"network.dim (now {config.network.dim})")
    if config.network.train_text_encoders:
        lower.append("set network.train_text_encoders = false")
    return "lower: " + ", ".join(lower) + "; then resume"
