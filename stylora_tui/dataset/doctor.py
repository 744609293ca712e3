"""The dataset doctor: every dataset mistake, as findings, before the GPU clock starts.

Finding codes are stable and documented in docs/FINDINGS.md. The same function serves
`stylora-tui check` and the wizard's dataset step.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from stylora_tui.config.schema import Config
from stylora_tui.dataset.buckets import BucketAssigner, StepCount, aspect_label, count_steps, spec_for
from stylora_tui.dataset.caption_findings import caption_findings
from stylora_tui.dataset.holdout import holdout
from stylora_tui.dataset.scan import DatasetImage, DatasetScan
from stylora_tui.dataset.tokens import TokenizerLike
from stylora_tui.findings import Finding, Severity

NEAR_DUPLICATE_BITS = 4  # of 64 dHash bits: a resize or recompression stays well under
FEW_IMAGES = 15
MANY_REPEATS = 6


@dataclass(frozen=True)
class DoctorReport:
    scan: DatasetScan
    findings: tuple[Finding, ...]
    steps: StepCount
    placements: dict  # rel path -> Placement

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def to_json(self) -> dict:
        return {
            "dataset": str(self.scan.root),
            "images": len(self.scan.images),
            "usable": len(self.scan.usable),
            "buckets": [{"width": b.width, "height": b.height, "count": b.count} for b in self.steps.buckets],
            "steps": self.steps.to_json(),
            "findings": [f.to_json() for f in self.findings],
        }


def place(scan: DatasetScan, config: Config) -> dict:
    """rel path -> Placement (bucket, resize, crop) of every usable image under `config`."""
    assigner = BucketAssigner(spec_for(config))
    return {i.rel: assigner.place(i.info.width, i.info.height) for i in scan.usable}


def steps_for(scan: DatasetScan, config: Config, placements: dict | None = None) -> StepCount:
    """What training `scan` with `config` counts: its repeats, buckets, held-out images, batch
    size, epochs, accumulation, GPUs. Every figure shown before a run comes from here, so it
    is always the current settings' (a scan made under other repeats included)."""
    scan = scan.with_repeats(config.dataset.repeats)
    placements = place(scan, config) if placements is None else placements
    usable = scan.usable
    held = holdout([i.rel for i in usable], config.validation.holdout_images, config.training.seed)
    return count_steps(
        [(placements[i.rel].bucket, i.repeats) for i in usable if i.rel not in held],
        config.training.batch_size,
        config.training.epochs,
        config.training.gradient_accumulation_steps,
        config.training.max_steps,
        config.training.gpus,
    )


def examine(scan: DatasetScan, config: Config, tokenizer: TokenizerLike | None = None) -> DoctorReport:
    scan = scan.with_repeats(config.dataset.repeats)
    findings: list[Finding] = []
    add = findings.append
    for image in scan.images:
        if image.info.error:
            add(
                _f(
                    Severity.ERROR,
                    "unreadable-image",
                    image.rel,
                    f"cannot be trained: {image.info.error}",
                    "re-export or re-download the image, or move it out of the dataset",
                )
            )
    usable = scan.usable
    placements = place(scan, config)
    held = holdout([i.rel for i in usable], config.validation.holdout_images, config.training.seed)
    if usable and len(held) >= len(usable):
        add(
            _f(
                Severity.ERROR,
                "holdout-too-large",
                "",
                f"validation.holdout_images ({config.validation.holdout_images}) leaves no image to train on",
                "hold out a few images at most (2-3 of 30), or set validation.holdout_images = 0",
            )
        )
    steps = steps_for(scan, config, placements)
    for image in usable:
        _image_findings(image, placements[image.rel], add)
    _duplicate_findings(usable, add)
    _bucket_findings(scan, steps, config, add)
    caption_findings(usable, config, tokenizer, add)  # an image that cannot be trained: its caption is moot
    for rel, why in scan.ignored:
        add(_f(Severity.INFO, "ignored-file", rel, f"not used: {why}", "move it out of the dataset folder to silence this"))
    refusal_hints = {
        "outside-dataset": "copy the file into the dataset folder (cp -L) if it belongs to the training set",
        "not-regular-file": "remove it from the dataset folder",
        "unreadable-file": "check the file's permissions, or move it out of the dataset folder",
    }
    for rel, code, why in scan.refused:
        add(_f(Severity.WARNING, code, rel, why, refusal_hints.get(code, "move it out of the dataset folder")))
    _practice_findings(scan, usable, config, add)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: (order[f.severity], f.code, f.path))
    return DoctorReport(scan, tuple(findings), steps, placements)


def _f(severity: Severity, code: str, path: str, message: str, hint: str) -> Finding:
    return Finding(severity, code, message, hint, path)


def _image_findings(image: DatasetImage, placement, add) -> None:
    info = image.info
    scale = placement.resized[0] / info.width
    if scale > 1.0:
        add(
            _f(
                Severity.WARNING,
                "low-resolution",
                image.rel,
                f"{info.width}x{info.height} is upscaled {scale:.2f}x into its {placement.bucket[0]}x{placement.bucket[1]} bucket",
                "use a larger original (at least the training resolution); upscaled images train blur",
            )
        )
    if info.mode == "CMYK":
        add(
            _f(
                Severity.WARNING,
                "color-mode",
                image.rel,
                "CMYK image: converted to RGB, colours may shift",
                "export it as RGB (sRGB) from your image editor",
            )
        )
    elif info.bit_depth > 8 or info.mode.startswith("I"):
        add(
            _f(
                Severity.INFO,
                "color-mode",
                image.rel,
                f"{info.bit_depth}-bit image: reduced to 8 bits per channel",
                "nothing to do unless banding matters; export as 8-bit to silence this",
            )
        )
    elif info.mode in ("P", "PA"):
        add(
            _f(
                Severity.INFO,
                "color-mode",
                image.rel,
                "palette (indexed-colour) image: converted to RGB",
                "nothing to do; export as RGB to silence this",
            )
        )
    if info.has_alpha:
        add(
            _f(
                Severity.WARNING,
                "transparency",
                image.rel,
                "has transparent pixels: they are composited on a white background for training",
                "flatten it onto the background you want in your image editor",
            )
        )
    if info.exif_orientation not in (1, 0):
        add(
            _f(
                Severity.INFO,
                "exif-rotated",
                image.rel,
                f"EXIF orientation {info.exif_orientation}: trained as displayed ({info.width}x{info.height}), not as stored",
                "nothing to do; note that kohya's sd-scripts would train it as stored",
            )
        )


def _duplicate_findings(usable, add) -> None:
    by_hash: dict[str, list[DatasetImage]] = defaultdict(list)
    for image in usable:
        by_hash[image.info.sha256].append(image)
    exact_seen: set[str] = set()
    for group in by_hash.values():
        for other in group[1:]:
            exact_seen.add(other.rel)
            add(
                _f(
                    Severity.WARNING,
                    "duplicate-image",
                    other.rel,
                    f"identical to {group[0].rel}",
                    "remove one: duplicates weigh that image twice (use repeats to weigh on purpose)",
                )
            )
    # Near duplicates: split the 64-bit hash into 5 bands; two hashes within 4 bits agree
    # on at least one band (pigeonhole), so only images sharing a band are compared.
    unique = [group[0] for group in by_hash.values()]
    bands: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, image in enumerate(unique):
        for band in range(5):
            bands[(band, (image.info.dhash >> (band * 13)) & 0x1FFF)].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in bands.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if bin(unique[a].info.dhash ^ unique[b].info.dhash).count("1") <= NEAR_DUPLICATE_BITS:
                    pairs.add((a, b))
    for a, b in sorted(pairs):
        add(
            _f(
                Severity.WARNING,
                "duplicate-image",
                unique[b].rel,
                f"nearly identical to {unique[a].rel} (a resize, crop or re-save?)",
                "keep the better one; near-duplicates push the model toward copying that picture",
            )
        )


def _bucket_findings(scan: DatasetScan, steps: StepCount, config: Config, add) -> None:
    buckets = steps.buckets
    if len(buckets) > 1:
        total = sum(b.count for b in buckets)
        dominant = buckets[0]
        spread = ", ".join(f"{b.width}x{b.height} ({aspect_label(b.width, b.height)}): {b.count}" for b in buckets[:6])
        more = f", +{len(buckets) - 6} more" if len(buckets) > 6 else ""
        ratio = aspect_label(dominant.width, dominant.height)
        add(
            _f(
                Severity.WARNING,
                "aspect-ratio-mix",
                "",
                f"images spread over {len(buckets)} buckets: {spread}{more}; {dominant.count} of {total} are {ratio}",
                f"crop every image to one ratio (stylora-tui crop DATASET --aspect {ratio if ':' in ratio else '2:3'} -o OUT); "
                "if several ratios are wanted, keep their counts balanced",
            )
        )
    batch = config.training.batch_size
    if batch > 1:
        for b in buckets:
            if b.count < batch:
                add(
                    _f(
                        Severity.WARNING,
                        "small-bucket",
                        "",
                        f"bucket {b.width}x{b.height} has {b.count} image(s), fewer than the batch size {batch}: its batches are partial",
                        "crop those images to the main ratio, or lower training.batch_size",
                    )
                )


def _practice_findings(scan: DatasetScan, usable, config: Config, add) -> None:
    if not usable:
        add(
            _f(
                Severity.ERROR,
                "no-images",
                "",
                "no usable image in the dataset",
                "put .png/.jpg/.webp images (with .txt captions) in the folder, or in <repeats>_<name> subfolders",
            )
        )
        return
    repeats = Counter(i.repeats for i in usable)
    if len(usable) < FEW_IMAGES:
        add(
            _f(
                Severity.WARNING,
                "few-images",
                "",
                f"only {len(usable)} usable images",
                "about 30 images in the style, all of it wanted, worked well; quality over quantity",
            )
        )
    if set(repeats) == {1}:
        add(
            _f(
                Severity.WARNING,
                "under-training",
                "",
                "every image has 1 repeat: 120 images x 1 repeat badly under-trained where 30 x 4 worked",
                "repeating the same image teaches faster than more images once: use 2 to 4 repeats",
            )
        )
    high = max(repeats)
    if high >= MANY_REPEATS:
        add(
            _f(
                Severity.WARNING,
                "many-repeats",
                "",
                f"{high} repeats: more repeats give a stronger style but copy the training images (poses, outfits)",
                "fewer repeats with more epochs learns gentler; the best recipe was 2 repeats x 150 epochs",
            )
        )
