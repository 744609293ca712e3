"""The run's dataset manifest: what was trained on, to detect drift before a resume.

Written at launch (`dataset.json`); a resume compares the dataset folder and the base
model with it and refuses, with the reason, when they changed: resuming on different
data would silently make a different adapter.
"""

from __future__ import annotations

import json

from stylora_tui.atomic import write_json_atomic
from stylora_tui.dataset.scan import DatasetScan
from stylora_tui.run.layout import RunDir

MANIFEST_VERSION = 1


def build_manifest(scan: DatasetScan, model_path: str, model_sha256: str) -> dict:
    return {
        "v": MANIFEST_VERSION,
        "dataset": str(scan.root),
        "model": {"path": model_path, "sha256": model_sha256},
        "files": {
            image.rel: {
                "size": image.size_bytes,
                "mtime_ns": image.mtime_ns,
                "sha256": image.info.sha256,
                "caption": image.caption.text if image.caption else None,
            }
            for image in scan.images
        },
    }


def write_manifest(run: RunDir, manifest: dict) -> None:
    write_json_atomic(run.dataset_manifest, manifest)


def read_manifest(run: RunDir) -> dict:
    return json.loads(run.dataset_manifest.read_text(encoding="utf-8"))


def drift(manifest: dict, scan: DatasetScan, model_sha256: str) -> list[str]:
    """Every difference that makes a resume train on something else."""
    reasons = []
    if manifest["model"]["sha256"] != model_sha256:
        reasons.append(f"the base model {manifest['model']['path']} changed since launch")
    before = manifest["files"]
    now = {i.rel: i for i in scan.images}
    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    changed = sorted(
        rel
        for rel in set(now) & set(before)
        if now[rel].info.sha256 != before[rel]["sha256"] or _caption_text(now[rel]) != before[rel]["caption"]
    )
    for label, names in (("added", added), ("removed", removed), ("changed (image or caption)", changed)):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            reasons.append(f"{len(names)} file(s) {label} in the dataset: {shown}")
    return reasons


def _caption_text(image) -> str | None:
    return image.caption.text if image.caption is not None else None
