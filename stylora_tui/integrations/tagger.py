"""WD14-style tagging (SmilingWolf's ONNX taggers) with onnxruntime: Danbooru tags for
images that have no caption yet, the way kohya's tag_images_by_wd14_tagger and the
WebUIs' taggers write them.

An image is flattened onto white, padded to a white square, resized (bicubic) to the
model's input side and fed as float32 BGR 0-255, NHWC: SmilingWolf's own preprocessing.
Tags come from the model's selected_tags.csv: category 9 is rating (dropped: a style
adapter must not learn "general"), 4 character, 0 general, each with its own threshold.
Underscores become spaces as the WebUIs expect, except in kaomoji such as ^_^.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.dataset.derive import Source, images, new_output, with_trigger, write_copy
from stylora_tui.errors import DatasetError, StyloraError
from stylora_tui.integrations import hub

DEFAULT_TAGGER = "SmilingWolf/wd-eva02-large-tagger-v3"
MODEL_FILE, TAGS_FILE = "model.onnx", "selected_tags.csv"
RATING, GENERAL, CHARACTER = 9, 0, 4
GENERAL_THRESHOLD, CHARACTER_THRESHOLD = 0.35, 0.85
DEFAULT_SIDE = 448  # the v2/v3 taggers' input; used when the model leaves it dynamic
KAOMOJI = {
    "0_0",
    "(o)_(o)",
    "+_+",
    "+_-",
    "._.",
    "<o>_<o>",
    "<|>_<|>",
    "=_=",
    ">_<",
    "3_3",
    "6_9",
    ">_o",
    "@_@",
    "^_^",
    "o_o",
    "u_u",
    "x_x",
    "|_|",
    "||_||",
}


class TaggerError(StyloraError):
    pass


@dataclass(frozen=True)
class Tag:
    name: str
    category: int


def webui_name(tag: str) -> str:
    return tag if tag in KAOMOJI else tag.replace("_", " ")


def tagger_files(spec: str, fetch=hub.fetch) -> tuple[Path, Path]:
    """model.onnx and selected_tags.csv: from a local folder, else from the hub (cached;
    `fetch` is how a hub file is fetched, with or without a progress display)."""
    folder = Path(spec).expanduser()
    if folder.is_dir():
        model, tags = folder / MODEL_FILE, folder / TAGS_FILE
        if not model.is_file() or not tags.is_file():
            raise TaggerError(
                f"{folder} does not hold {MODEL_FILE} and {TAGS_FILE}",
                f"point --tagger at a WD14 tagger folder, or give a hub id such as {DEFAULT_TAGGER}",
            )
        return model, tags
    ref = hub.parse(spec) if "/" in spec else None
    if ref is None or ref.file is not None:
        raise TaggerError(
            f"{spec!r} is not a tagger folder or a hub repo id", f"use a hub id such as {DEFAULT_TAGGER}, or a local folder"
        )
    return fetch(hub.HubRef(ref.repo, MODEL_FILE, ref.revision)), fetch(hub.HubRef(ref.repo, TAGS_FILE, ref.revision))


def read_tags(path: Path) -> list[Tag]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [Tag(row["name"], int(row["category"])) for row in csv.DictReader(handle)]
    except (KeyError, ValueError, OSError, csv.Error) as exc:
        raise TaggerError(
            f"{path.name} is not a tagger's tag list ({exc})", "it needs the columns name and category (selected_tags.csv)"
        ) from exc


class Tagger:
    def __init__(
        self, model: Path, tags: Path, general: float = GENERAL_THRESHOLD, character: float = CHARACTER_THRESHOLD
    ) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise TaggerError(
                "tagging needs onnxruntime, which is not installed",
                "pip install 'onnxruntime>=1.19' (or onnxruntime-gpu on a GPU machine) into stylora-tui's environment",
            ) from exc
        # The GPU when onnxruntime-gpu is installed with CUDA present; else the CPU.
        wanted = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in onnxruntime.get_available_providers()]
        try:
            self.session = onnxruntime.InferenceSession(str(model), providers=wanted)
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise TaggerError(
                f"{model} could not be loaded as an ONNX model ({exc})".splitlines()[0],
                "delete it and run again to download it afresh, or point --tagger at another tagger",
            ) from exc
        self.tags = read_tags(tags)
        entry = self.session.get_inputs()[0]
        self.input_name, self.output_name = entry.name, self.session.get_outputs()[0].name
        side = entry.shape[1]
        self.side = side if isinstance(side, int) and side > 0 else DEFAULT_SIDE
        outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(outputs, int) and outputs != len(self.tags):
            raise TaggerError(
                f"the model scores {outputs} tags but {tags.name} lists {len(self.tags)}",
                "use the model.onnx and selected_tags.csv of the same tagger",
            )
        self.general, self.character = general, character
        self.provider = self.session.get_providers()[0]

    def prepare(self, path: Path):
        """SmilingWolf's preprocessing of one image."""
        import numpy as np
        from PIL import Image, ImageOps

        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGBA")
        flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
        flat.alpha_composite(image)
        side = max(flat.size)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(flat.convert("RGB"), ((side - flat.width) // 2, (side - flat.height) // 2))
        square = square.resize((self.side, self.side), Image.Resampling.BICUBIC)
        return np.asarray(square, dtype=np.float32)[:, :, ::-1]

    def tag(self, paths: Iterable[Path]) -> list[list[str]]:
        """Tags per image: characters first, then general tags, each by confidence."""
        import numpy as np

        batch = np.stack([self.prepare(p) for p in paths])
        scores = self.session.run([self.output_name], {self.input_name: batch})[0]
        result = []
        for row in scores:
            chosen = [
                (float(score), tag)
                for score, tag in zip(row, self.tags)
                if (tag.category == CHARACTER and score >= self.character)
                or (tag.category not in (CHARACTER, RATING) and score >= self.general)
            ]
            chosen.sort(key=lambda item: (item[1].category != CHARACTER, -item[0]))
            result.append([webui_name(tag.name) for _, tag in chosen])
        return result


@dataclass(frozen=True)
class Tagged:
    output: Path
    images: int
    tagged: int  # images the tagger captioned
    kept: int  # images whose own caption was kept
    without_tags: tuple[str, ...]  # tagged, but nothing scored above the thresholds
    linked: int
    copied: int
    provider: str


def tag_dataset(
    source: Path,
    output: Path,
    tagger_spec: str,
    *,
    trigger: str = "",
    quality: tuple[str, ...] = (),
    keep_existing: bool = False,
    general: float = GENERAL_THRESHOLD,
    character: float = CHARACTER_THRESHOLD,
    batch_size: int = 8,
    caption_extension: str = ".txt",
    copy: bool = False,
    fetch=hub.fetch,
    progress=None,
) -> Tagged:
    """Tag `source` into the new folder `output` (captions: trigger, quality tags, then the
    tags; with `keep_existing`, captioned images keep theirs). `progress(done, total)`."""
    source, output = new_output(source, output)  # refused before any download
    found = list(images(source, caption_extension))
    if not found:
        raise DatasetError(f"no images in {source}", "point at the folder that holds the images (PNG, JPEG, WebP)")
    todo = [item for item in found if not (keep_existing and item.caption is not None)]
    tags: dict[Path, list[str]] = {}
    provider = ""
    if todo:
        tagger = Tagger(*tagger_files(tagger_spec, fetch), general, character)
        provider = tagger.provider
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for item, chosen in zip(batch, tagger.tag(item.path for item in batch)):
                tags[item.rel] = chosen
            if progress is not None:
                progress(min(start + batch_size, len(todo)), len(todo))

    def caption_for(item: Source) -> str:
        return with_trigger(", ".join(tags[item.rel]) if item.rel in tags else item.caption, trigger, quality)

    placed = write_copy(source, output, caption_for, caption_extension, copy=copy)
    return Tagged(
        output,
        len(found),
        len(tags),
        len(found) - len(tags),
        tuple(str(rel) for rel, t in tags.items() if not t),
        placed["linked"],
        placed["copied"],
        provider,
    )
