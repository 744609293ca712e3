"""A style embedding, for ranking a run's epochs by how close their previews come to the
training set's style.

The model is CSD (Contrastive Style Descriptors; Somepalli et al., "Measuring Style
Similarity in Diffusion Models", 2024): a CLIP ViT-L/14 image tower fine-tuned so that
pictures by one artist embed close together whatever they show, with a separate content
head. Its weights are MIT-licensed; the ONNX export used by default is
`yuxi-liu-wired/CSD` (csd_clip_model.onnx, about 611 MB, MIT), fetched by name like the
tagger and cached by huggingface_hub. Any ONNX model with the same interface works:
one NCHW float32 input at the model's side (224 for CSD) normalized with CLIP's mean and
standard deviation, and an output named "style" (else the last output) of one embedding per
image.

Preprocessing is CSD's own: resize the short side to 224 (bicubic), centre-crop 224x224,
scale to 0-1, normalize with CLIP's statistics.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from stylora_tui.errors import StyloraError
from stylora_tui.integrations import hub

DEFAULT_STYLE_MODEL = "yuxi-liu-wired/CSD"
MODEL_FILE = "csd_clip_model.onnx"
LICENCE = "MIT"
DEFAULT_SIDE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BATCH = 8
GPU_MEMORY_LIMIT = 3 << 30  # CSD's weights are 0.6 GB; its activations at batch 8 fit the rest


class StyleModelError(StyloraError):
    pass


def style_model_file(spec: str, fetch=hub.fetch) -> Path:
    """The ONNX file: `spec` is a .onnx file, a folder holding csd_clip_model.onnx, or a hub
    repo id (fetched and cached; `fetch` is how a hub file is fetched)."""
    local = Path(spec).expanduser()
    if local.is_file():
        return local
    if local.is_dir():
        if not (local / MODEL_FILE).is_file():
            raise StyleModelError(
                f"{local} does not hold {MODEL_FILE}", f"point at the .onnx file itself, or at a folder holding {MODEL_FILE}"
            )
        return local / MODEL_FILE
    ref = hub.parse(spec) if "/" in spec else None
    if ref is None:
        raise StyleModelError(
            f"{spec!r} is not an ONNX file, a folder or a hub repo id",
            f"use a hub id such as {DEFAULT_STYLE_MODEL}, or a local .onnx file",
        )
    return fetch(hub.HubRef(ref.repo, ref.file or MODEL_FILE, ref.revision))


def model_id(path: Path) -> str:
    """What an embedding is keyed by: the model file's name and size, so a different model's
    embeddings are never compared with this one's."""
    return f"{path.name}:{path.stat().st_size}"


class StyleScorer:
    def __init__(self, model: Path) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise StyleModelError(
                "the style score needs onnxruntime, which is not installed",
                "pip install 'onnxruntime>=1.19' (or onnxruntime-gpu on a GPU machine) into stylora-tui's environment",
            ) from exc
        available = onnxruntime.get_available_providers()
        # Beside a training run on the same GPU: a capped arena that grows only as asked.
        cuda = ("CUDAExecutionProvider", {"gpu_mem_limit": GPU_MEMORY_LIMIT, "arena_extend_strategy": "kSameAsRequested"})
        wanted = [cuda] if "CUDAExecutionProvider" in available else []
        wanted.append(("CPUExecutionProvider", {}))
        try:
            self.session = onnxruntime.InferenceSession(str(model), providers=wanted)
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise StyleModelError(
                f"{model} could not be loaded as an ONNX model ({exc})".splitlines()[0],
                "delete it and run again to download it afresh, or set another style model",
            ) from exc
        entry = self.session.get_inputs()[0]
        self.input_name = entry.name
        self.half = entry.type == "tensor(float16)"  # an export in half precision takes half in
        side = entry.shape[2] if len(entry.shape) == 4 else None
        self.side = side if isinstance(side, int) and side > 0 else DEFAULT_SIDE
        batch = entry.shape[0]
        self.fixed_batch = isinstance(batch, int) and batch > 0  # exported for one batch size
        self.batch = batch if self.fixed_batch else BATCH
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = next((name for name in outputs if "style" in name.lower()), outputs[-1])
        self.provider = self.session.get_providers()[0]
        self.model_id = model_id(model)

    def prepare(self, path: Path):
        import numpy as np
        from PIL import Image, ImageOps

        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        scale = self.side / min(image.size)
        image = image.resize(
            (max(self.side, round(image.width * scale)), max(self.side, round(image.height * scale))),
            Image.Resampling.BICUBIC,
        )
        left, top = (image.width - self.side) // 2, (image.height - self.side) // 2
        image = image.crop((left, top, left + self.side, top + self.side))
        scaled = np.asarray(image, dtype=np.float32) / 255.0
        normalized = (scaled - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(CLIP_STD, dtype=np.float32)
        return normalized.transpose(2, 0, 1)

    def embed(self, paths: Iterable[Path]) -> list[list[float]]:
        """One unit-length style embedding per image."""
        import numpy as np

        paths = list(paths)
        found: list[list[float]] = []
        for start in range(0, len(paths), self.batch):
            batch = np.stack([self.prepare(p) for p in paths[start : start + self.batch]])
            if self.fixed_batch and len(batch) < self.batch:
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.batch - len(batch), axis=0)])
            if self.half:
                batch = batch.astype(np.float16)
            vectors = self.session.run([self.output_name], {self.input_name: batch})[0][: len(paths) - start]
            vectors = vectors.reshape(len(vectors), -1).astype(np.float64)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            found.extend((vectors / np.maximum(norms, 1e-12)).round(6).tolist())
        return found
