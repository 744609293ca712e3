from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stylora_tui.run import control
from stylora_tui.run import event_log as log
from stylora_tui.run import events as ev
from stylora_tui.run.catalog import create_run
from stylora_tui.run.state import RunState, reduce, replay


def test_tailer_reads_from_offset_and_leaves_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = log.EventWriter(path)
    writer.write(ev.RunStarted(run="r", step=0, total_steps=10))
    tailer = log.EventTailer(path)
    assert [type(e) for e in tailer.read_new()] == [ev.RunStarted]
    offset = tailer.offset
    with open(path, "ab") as handle:
        handle.write(b'{"v":1,"type":"train.step","step":1')  # the writer is mid-append
    assert tailer.read_new() == [] and tailer.offset == offset
    with open(path, "ab") as handle:
        handle.write(b',"loss":0.5}\nnot json\n')
    events = tailer.read_new()
    assert [type(e) for e in events] == [ev.TrainStep], "a damaged line is skipped, not fatal"
    assert tailer.offset == path.stat().st_size
    writer.close()


def test_events_are_versioned_and_timestamped(tmp_path):
    writer = log.EventWriter(tmp_path / "e.jsonl")
    event = writer.write(ev.TrainStep(step=3, loss=0.1))
    writer.close()
    line = json.loads((tmp_path / "e.jsonl").read_text())
    assert line["v"] == 1 and line["type"] == "train.step" and isinstance(line["ts"], float)
    assert log.decode(line) == event, "what is read back is what was written"


def typed(events: list[dict]) -> list[ev.Event]:
    """Events as JSON objects (the wire format), read the way every reader reads them."""
    return [log.decode(e) for e in events]


def test_reducer_eta_average_and_final_states():
    events = [{"type": "run.started", "ts": 0.0, "run": "r", "step": 0, "total_steps": 100, "epochs": 10}]
    events += [{"type": "train.step", "ts": float(i), "step": i, "epoch": 1, "loss": 0.2, "it_per_s": 2.0} for i in range(1, 21)]
    state = replay(typed(events))
    assert state.phase == "training" and state.step == 20 and abs(state.loss_avg - 0.2) < 1e-9
    assert state.eta_s == 40.0 and state.progress == 0.2
    state = reduce(state, ev.ControlReceived(intent="stop"))
    assert state.phase == "stopping"
    state = reduce(state, ev.RunStopped(step=20, reason="stop requested"))
    assert state.phase == "stopped" and state.finished and state.eta_s is None
    failed = reduce(RunState(), ev.RunFailed(reason="CUDA out of memory"))
    assert failed.phase == "failed" and failed.reason == "CUDA out of memory"


def test_loss_history_is_thinned_not_dropped():
    state = RunState()
    for step in range(1, 5001):
        state = reduce(state, ev.TrainStep(ts=float(step), step=step, loss=1.0))
    assert len(state.losses) <= 600 and state.losses[0][0] == 1 and state.losses[-1][0] == 5000


def test_control_intents(tmp_path):
    run = create_run(tmp_path, "r")
    assert control.pending(run) == set()
    control.request(run, control.STOP)
    control.request(run, control.SAVE_NOW)
    assert control.pending(run) == {"stop", "save-now"}
    control.consume(run, control.STOP)
    assert control.pending(run) == {"save-now"}


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_types = st.sampled_from(
    [
        "run.started",
        "run.resumed",
        "cache.progress",
        "train.step",
        "train.skipped",
        "checkpoint.saved",
        "checkpoint.failed",
        "output.saved",
        "sample.progress",
        "sample.saved",
        "validation.loss",
        "control.received",
        "gpu.sample",
        "log",
        "run.stopped",
        "run.finished",
        "run.failed",
        "other",
    ]
)
_events = st.one_of(
    st.builds(
        lambda kind, fields: {"type": kind, **fields},
        _types,
        st.dictionaries(
            st.sampled_from(
                [
                    "step",
                    "loss",
                    "ts",
                    "epoch",
                    "total_steps",
                    "path",
                    "gpus",
                    "reason",
                    "done",
                    "total",
                    "it_per_s",
                    "message",
                    "intent",
                    "run",
                    "hint",
                ]
            ),
            _values,
            max_size=6,
        ),
    ),
    _values,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_events, max_size=30))
def test_the_reducer_never_raises_on_any_event_sequence(sequence):
    """Any JSON a damaged or hand-edited log holds: the codec takes it or skips it, and the
    reducer takes whatever the codec gives."""
    from stylora_tui.run.state import RunState, reduce

    state = RunState()
    for data in sequence:
        event = log.decode(data)
        if event is not None:
            state = reduce(state, event)
    assert isinstance(state, RunState)


def test_the_eta_follows_the_real_step_time_from_the_first_steps():
    """A first step slowed by warm-up (30 s) then 0.5 s steps: after five steps the ETA is
    the remaining steps at 0.5 s, not a smoothed rate still dragged by the first step."""
    events = [{"type": "run.started", "ts": 1000.0, "total_steps": 1000, "epochs": 10}]
    train_s = 0.0
    for step in range(1, 6):
        train_s += 30.0 if step == 1 else 0.5
        events.append(
            {
                "type": "train.step",
                "ts": 1000.0 + train_s,
                "step": step,
                "epoch": 1,
                "loss": 0.1,
                "it_per_s": 1 / 30 * 0.9**step + 2 * (1 - 0.9**step),
                "train_s": train_s,
            }
        )
    state = replay(typed(events))
    assert state.step_s == 0.5 and state.eta_s == (1000 - 5) * 0.5


def test_elapsed_goes_on_through_previews_and_across_sessions():
    events = [
        {"type": "run.started", "ts": 1000.0, "total_steps": 100, "epochs": 2},
        {"type": "train.step", "ts": 1010.0, "step": 10, "epoch": 1, "loss": 0.1, "train_s": 10.0},
        {"type": "sample.progress", "ts": 1050.0, "done": 1, "total": 3},
        {"type": "sample.progress", "ts": 1090.0, "done": 2, "total": 3},
    ]
    state = replay(typed(events))
    assert state.phase == "sampling"
    assert state.elapsed_s(1095.0) == 95.0 and state.elapsed_s(1100.0) == 100.0  # ticks on between sample events
    state = replay(
        typed(
            [
                {"type": "run.stopped", "ts": 1100.0, "step": 10},
                {"type": "run.resumed", "ts": 5000.0, "step": 10, "total_steps": 100, "epochs": 2},
            ]
        ),
        state,
    )
    assert state.elapsed_s(5030.0) == 130.0  # 100 s before the stop, 30 s since the resume


def test_a_line_cut_short_does_not_swallow_the_next_event(tmp_path):
    """A trainer killed mid-append, or a mirror copied mid-append, leaves half a line: the
    next writer starts a line of its own, so only the half line is lost."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"v":1,"type":"log","message":"before"}\n{"v":1,"type":"lo')
    writer = log.EventWriter(path)
    writer.write(ev.Log(message="after"))
    writer.close()
    assert [e.message for e in log.read_events(path)] == ["before", "after"]
