"""The style model a run is judged with, opened or the reason there is none.

A hub id is downloaded only where the caller allows it (the trainer on the rental, or
`compare --style-model`); elsewhere only a copy already in the hub cache is used, so a
`compare` on a laptop never starts a 611 MB download by itself. A hub that cannot be reached
is a reason, never a crash: the suggestion then comes from validation loss and the copy alarm.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from stylora_tui.choose.judge import Style
from stylora_tui.errors import StyloraError
from stylora_tui.integrations import hub
from stylora_tui.integrations.style import MODEL_FILE, StyleScorer, style_model_file

# `style_model = "demo"`: a few-kilobyte stand-in with CSD's interface (colour and texture
# statistics, no learnt weights) shipped for the demo, which must run offline in a minute.
DEMO = "demo"
DEMO_FILE = "demo-style.onnx"
SIZE_NOTE = "about 611 MB"


def demo_model() -> Path:
    return Path(str(resources.files("stylora_tui") / "data" / DEMO_FILE))


def open_style(spec: str, *, download: bool, fetch=hub.fetch) -> Style:
    spec = spec.strip()
    if not spec:
        return Style(None, "no style model is set (samples.style_model)")
    try:
        path = _locate(spec, download, fetch)
        if path is None:
            return Style(
                None, f"{spec} is not downloaded (`--style-model {spec}` fetches it, {SIZE_NOTE}; the trainer does on its own)"
            )
        return Style(StyleScorer(path))
    except StyloraError as exc:
        return Style(None, exc.message)


def _locate(spec: str, download: bool, fetch) -> Path | None:
    if spec == DEMO:
        return demo_model()
    if download or Path(spec).expanduser().exists():
        return style_model_file(spec, fetch)
    ref = hub.parse(spec) if "/" in spec else None
    if ref is None:
        return style_model_file(spec, fetch)  # says what is wrong with it
    return hub.cached(hub.HubRef(ref.repo, ref.file or MODEL_FILE, ref.revision))
