"""The trainer's part in the rental's lifecycle: the mirror sent after each save (heard on
the reporter), and at the end, once the mirror holds the run, the machine stopped or given
back after a countdown anyone can cancel (`stylora-tui stop RUN --keep-machine`, or a key in
the monitor or the headless view).

The countdown runs after the run's lock is released: the run reads as finished (or failed)
everywhere while the machine waits to be stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from stylora_tui.config.schema import Config
from stylora_tui.rental.destinations import parse
from stylora_tui.rental.lifecycle import QUEUED_ENV, deal_with_machine
from stylora_tui.rental.meter import machine_price
from stylora_tui.rental.mirror import Mirror, MirrorState
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer.seams import Reporter

MIRROR_FINAL_S = 1800.0  # how long the end waits for the mirror to hold the final adapter
SENT_AFTER = (ev.OutputSaved, ev.CheckpointSaved, ev.SampleSaved, ev.EpochJudged, ev.AdapterSuggested, ev.ValidationLoss)


class RentalSide:
    def __init__(self, run: RunDir, config: Config, reporter: Reporter) -> None:
        self.run, self.config, self.reporter = run, config, reporter
        self.mirror: Mirror | None = None
        price = machine_price(config.rental.price_per_hour)
        if price is not None:
            source = "rental.price_per_hour" if config.rental.price_per_hour else "the provider"
            reporter.emit(ev.MachinePrice(price_per_hour=price, source=source))
            reporter.status(force=True, price_per_hour=price)
        if config.mirror.to:
            self.mirror = Mirror(run, parse(config.mirror.to), config.mirror.checkpoints, self.mirror_changed)
            reporter.listeners.append(self.heard)

    def heard(self, event: ev.Event) -> None:
        if isinstance(event, SENT_AFTER) and self.mirror is not None:
            self.mirror.request()

    def mirror_changed(self, state: MirrorState) -> None:
        if state.error:
            self.reporter.emit(ev.MirrorFailed(destination=state.destination, reason=state.error, retry_in_s=state.retry_in_s))
        else:
            self.reporter.emit(ev.MirrorSynced(destination=state.destination, seconds=state.last_ok_s or 0.0))

    def end(self, final: ev.Event | None, release_lock: Callable[[], None]) -> None:
        """After the final event: the mirror brought up to date, the lock released, then the
        machine dealt with as `[rental]` says for how the run ended (in a queue, the queue
        deals with it after its last run)."""
        action = self.action_for(final)
        held = True
        if self.mirror is not None:
            held = self.mirror.flush(MIRROR_FINAL_S)
            self.mirror.close()
        release_lock()
        if os.environ.get(QUEUED_ENV) == "1":
            if action != "nothing":
                self.reporter.emit(ev.Log(message="the queue deals with this machine after its last run"))
            return
        deal_with_machine(self.run, action, self.config.rental.command, self.reporter.emit, self.why_not(final, held))

    def action_for(self, final: ev.Event | None) -> str:
        if isinstance(final, ev.RunFinished):
            return self.config.rental.on_finish
        if isinstance(final, ev.RunFailed):
            return self.config.rental.on_failure
        return "nothing"  # stopped by the user: they are here

    def why_not(self, final: ev.Event | None, held: bool) -> str:
        if isinstance(final, ev.RunFinished) and not (self.run.path / final.output).is_file():
            return f"the final adapter {final.output} is missing; the machine is kept"
        if not held:
            reason = self.mirror.state.error if self.mirror is not None else ""
            return f"the mirror does not hold the run ({reason or 'it did not finish in time'}); the machine is kept"
        return ""
