"""Each rendered preview set of a run judged: its style score against the training set and
the training images its previews copy.

What is slow to make (a training image's fingerprints, any image's style embedding) is kept
in the run's judging.json by the file's content (sha256), so a second look costs almost
nothing, and a preview that was re-rendered or replaced is judged afresh: nothing is keyed by
a file name. The training set is the run's manifest (dataset.json): images are found by
their recorded digest, on disk when the dataset is still there, else in judging.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stylora_tui.atomic import write_json_atomic
from stylora_tui.choose import copies
from stylora_tui.choose.samples import EpochSamples, epoch_samples, output_for_epoch
from stylora_tui.errors import RunError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.manifest import read_manifest

JUDGING_FILE = "judging.json"
JUDGING_VERSION = 1
NO_TRIGGER = "no trigger"  # the prompt that checks the base is unchanged: not the style


class Embedder(Protocol):
    """What scores style: `model_id` names the model, `embed(paths)` gives one unit vector
    per image (integrations/style.py's StyleScorer is one)."""

    model_id: str

    def embed(self, paths: Iterable[Path]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Style:
    """The style model to score with, or why there is none."""

    embedder: Embedder | None
    unavailable: str | None = None


@dataclass(frozen=True)
class Judged:
    run: str
    samples: EpochSamples
    adapter: str | None  # the adapter file's name; None when it is not (or no longer) saved
    style_score: float | None
    style_unavailable: str | None
    copies: tuple[copies.Copy, ...]
    copies_unavailable: str | None = None  # why the copy alarm could not look

    @property
    def epoch(self) -> int:
        return self.samples.epoch

    @property
    def strength(self) -> float:
        return self.samples.strength


@dataclass(frozen=True)
class TrainingImage:
    key: str  # sha256 of the file
    path: Path  # where it was trained from


def content_key(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def training_images(run: RunDir) -> list[TrainingImage]:
    try:
        manifest = read_manifest(run)
        root, files = Path(manifest["dataset"]), manifest["files"]
        return [TrainingImage(str(info["sha256"]), root / rel) for rel, info in sorted(files.items())]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(
            f"run {run.name!r} has no readable dataset manifest ({run.dataset_manifest.name}), so its training images are unknown",
            "it is written when a run starts; copy the run folder whole, dataset.json included",
        ) from exc


class Cache:
    """judging.json: fingerprints and embeddings by content."""

    def __init__(self, run: RunDir) -> None:
        self.path = run.path / JUDGING_FILE
        self.changed = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("v") != JUDGING_VERSION or data.get("fingerprint_version") != copies.FINGERPRINT_VERSION:
                raise ValueError("another version")
            self.fingerprints: dict[str, list] = dict(data["fingerprints"])
            self.embeddings: dict[str, dict[str, list[float]]] = dict(data["embeddings"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.fingerprints, self.embeddings = {}, {}

    def prints(self, key: str) -> list[copies.Fingerprint] | None:
        stored = self.fingerprints.get(key)
        if stored is None:
            return None
        return [copies.Fingerprint(int(row[0]), tuple(int(v) for v in row[1:])) for row in stored]

    def keep_prints(self, key: str, prints: list[copies.Fingerprint]) -> None:
        self.fingerprints[key] = [[p.hash, *p.colours] for p in prints]
        self.changed = True

    def vector(self, model: str, key: str) -> list[float] | None:
        return self.embeddings.get(model, {}).get(key)

    def keep_vector(self, model: str, key: str, vector: list[float]) -> None:
        self.embeddings.setdefault(model, {})[key] = vector
        self.changed = True

    def save(self) -> None:
        if self.changed:
            write_json_atomic(
                self.path,
                {
                    "v": JUDGING_VERSION,
                    "fingerprint_version": copies.FINGERPRINT_VERSION,
                    "fingerprints": self.fingerprints,
                    "embeddings": self.embeddings,
                },
            )
            self.changed = False


class RunJudge:
    """Judges one run's preview sets against its training set."""

    def __init__(self, run: RunDir, style: Style) -> None:
        self.run, self.style, self.cache = run, style, Cache(run)
        self.training_problem: str | None = None
        try:
            self.training = training_images(run)
        except RunError as exc:
            self.training, self.training_problem = [], exc.message
        self._training_prints: dict[str, list[copies.Fingerprint]] | None = None
        self._reference: list[float] | None = None
        self._style_problem = style.unavailable or self.training_problem

    def training_prints(self) -> dict[str, list[copies.Fingerprint]]:
        """Training image path -> its views; an image neither on disk (unchanged) nor cached is
        left out."""
        if self._training_prints is None:
            found = {}
            for image in self.training:
                prints = self.cache.prints(image.key)
                if prints is None and _unchanged(image):
                    prints = copies.training_fingerprints([image.path])[str(image.path)]
                    self.cache.keep_prints(image.key, prints)
                if prints is not None:
                    found[str(image.path)] = prints
            self._training_prints = found
        return self._training_prints

    def reference(self) -> list[float] | None:
        """The training set's mean style embedding; None (with the reason kept) without one."""
        embedder = self.style.embedder
        if self._reference is not None or embedder is None or self._style_problem:
            return self._reference
        vectors = []
        missing = [i for i in self.training if self.cache.vector(embedder.model_id, i.key) is None and _unchanged(i)]
        for image, vector in zip(missing, embedder.embed(i.path for i in missing)):
            self.cache.keep_vector(embedder.model_id, image.key, vector)
        vectors = [v for i in self.training if (v := self.cache.vector(embedder.model_id, i.key)) is not None]
        if not vectors:
            self._style_problem = "the training images are not on this machine and were never scored"
            return None
        self._reference = [sum(column) / len(vectors) for column in zip(*vectors)]
        return self._reference

    def style_score(self, samples: EpochSamples) -> tuple[float | None, str | None]:
        reference = self.reference()
        embedder = self.style.embedder
        if reference is None or embedder is None:
            return None, self._style_problem
        chosen = [p for p, kind in _with_kinds(samples) if kind != NO_TRIGGER]
        if not chosen:
            return None, "every preview of this epoch is of the prompt without the trigger"
        keys = [content_key(p) for p in chosen]
        todo = [(p, k) for p, k in zip(chosen, keys) if self.cache.vector(embedder.model_id, k) is None]
        for (_, key), vector in zip(todo, embedder.embed(p for p, _ in todo)):
            self.cache.keep_vector(embedder.model_id, key, vector)
        vectors = [self.cache.vector(embedder.model_id, k) or [] for k in keys]
        score = sum(sum(a * b for a, b in zip(v, reference)) for v in vectors) / len(vectors)
        return round(score, 4), None

    def copies_problem(self) -> str | None:
        if self.training_problem:
            return self.training_problem
        if not self.training_prints():
            return "the training images are not on this machine and were never fingerprinted"
        return None

    def copies(self, samples: EpochSamples) -> tuple[copies.Copy, ...]:
        training = self.training_prints()
        if not training:
            return ()

        def prints_of(path: Path) -> list[copies.Fingerprint]:
            key = content_key(path)
            prints = self.cache.prints(key)
            if prints is None:
                prints = copies.preview_fingerprints(path)
                self.cache.keep_prints(key, prints)
            return prints

        return tuple(copies.near_copies(samples.images, training, prints_of))

    def judge(self, samples: EpochSamples) -> Judged:
        style_score, unavailable = self.style_score(samples)
        try:
            adapter: str | None = output_for_epoch(self.run, samples.epoch).name
        except RunError:
            adapter = None
        return Judged(self.run.name, samples, adapter, style_score, unavailable, self.copies(samples), self.copies_problem())

    def judge_all(self) -> list[Judged]:
        """Every preview set rendered from a saved epoch, oldest first."""
        try:
            return [self.judge(s) for s in epoch_samples(self.run) if s.saved_epoch and s.images]
        finally:
            self.cache.save()


def _unchanged(image: TrainingImage) -> bool:
    try:
        return image.path.is_file() and content_key(image.path) == image.key
    except OSError:
        return False


def _with_kinds(samples: EpochSamples) -> list[tuple[Path, str]]:
    kinds = list(samples.kinds) + ["custom"] * (len(samples.images) - len(samples.kinds))
    return list(zip(samples.images, kinds))


def same_dataset(runs: list[RunDir]) -> None:
    """Runs ranked together must have trained on the same images."""
    sets = {run.name: frozenset(i.key for i in training_images(run)) for run in runs}
    first = runs[0].name
    differ = [name for name, keys in sets.items() if keys != sets[first]]
    if differ:
        raise RunError(
            f"{', '.join(differ)} trained on other images than {first}: style scores rank epochs against one dataset",
            "compare runs of one dataset together, and other runs on their own",
        )
