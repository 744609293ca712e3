"""Decode one image fully, once, and report what training needs to know about it.

Runs in worker processes. Every byte is read and decoded so a truncated file fails now,
not in hour three; JPEGs decode at 1/8 scale through libjpeg's DCT scaling (draft mode),
which still reads every byte but costs a fraction of a full decode.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import asdict, dataclass

from stylora_tui.dataset.reading import open_regular

PROBE_VERSION = 2  # 2: the difference hash reduces before it resamples
HASH_SIDE = 8


@dataclass(frozen=True)
class ImageInfo:
    width: int = 0  # as displayed, after EXIF orientation
    height: int = 0
    format: str = ""
    mode: str = ""
    bit_depth: int = 8
    has_alpha: bool = False  # some pixel is not fully opaque
    exif_orientation: int = 1
    sha256: str = ""
    dhash: int = 0
    error: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ImageInfo:
        return cls(**data)


def _dhash(image) -> int:
    """64-bit difference hash of the grey image: robust to resizing and recompression.

    The box-reduction pass before the resample (`reducing_gap`) makes it a third of the cost
    on a full-size PNG, whose decode has no scaled mode as JPEG's has."""
    small = image.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), reducing_gap=2.0)
    pixels = small.tobytes()
    bits = 0
    for row in range(HASH_SIDE):
        for col in range(HASH_SIDE):
            left = pixels[row * (HASH_SIDE + 1) + col]
            right = pixels[row * (HASH_SIDE + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return bits


def _png_bit_depth(data: bytes) -> int:
    # IHDR is always the first chunk; byte 24 is the bit depth per channel.
    return data[24] if len(data) > 24 and data[:8] == b"\x89PNG\r\n\x1a\n" else 8


def probe_image(path: str) -> ImageInfo:
    from PIL import Image, ImageOps

    try:
        with open_regular(path) as handle:
            data = handle.read()
    except OSError as exc:
        return ImageInfo(error=f"cannot read the file: {exc.strerror or exc}")
    if not data:
        return ImageInfo(error="the file is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 MP and 179 MP; a training image that large is a
            # decompression bomb for our purposes too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt, mode = image.format or "", image.mode
            orientation = int(image.getexif().get(0x0112, 1) or 1)
            width, height = image.size
            if fmt == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
            alpha = None
            if mode in ("RGBA", "LA", "PA"):
                alpha = image.getchannel("A")
            elif mode == "P" and "transparency" in image.info:
                alpha = image.convert("RGBA").getchannel("A")
            lowest = alpha.getextrema()[0] if alpha is not None else 255  # one band: (lowest, highest)
            has_alpha = isinstance(lowest, (int, float)) and lowest < 255
            shown = ImageOps.exif_transpose(image) if orientation != 1 else image
            dhash = _dhash(shown)
    except Image.DecompressionBombError as exc:
        return ImageInfo(sha256=digest, error=f"decompression bomb: {exc}")
    except Image.DecompressionBombWarning as exc:
        return ImageInfo(sha256=digest, error=f"decompression bomb: {exc}")
    except Image.UnidentifiedImageError:
        return ImageInfo(sha256=digest, error="not an image Pillow can read (wrong extension, or not an image at all)")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason or isinstance(exc, EOFError):
            reason = f"truncated: {reason}"
        return ImageInfo(sha256=digest, error=reason)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    bit_depth = _png_bit_depth(data) if fmt == "PNG" else (16 if mode.startswith("I;16") else 8)
    return ImageInfo(width, height, fmt, mode, bit_depth, has_alpha, orientation, digest, dhash)
