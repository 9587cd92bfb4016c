"""Turn the pixel data of a DICOM dataset into display-ready JPEGs.

A pure function module: no Django, no disk, no network. Greyscale images go through the
standard display pipeline of PS3.4 N.2.1 (Modality LUT, then VOI LUT, then the inversion that
MONOCHROME1 implies); colour images are brought to 8-bit RGB (PS3.3 C.7.6.3.1.2). Decoding is
``hds.dicom.decode``, the LUTs and windows ``hds.dicom.processing``; this module assembles them
and writes the JPEGs.

Every failure reaches the caller as `RenderError`, whose message is a short English reason
that is safe to show a user: it never carries a value read from the dataset.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import Decoder

from hds.dicom.decode import (
    MAX_FRAME_PIXELS,
    PIXEL_KEYWORDS,
    PixelModule,
    can_decode,
    decoded_frames,
    decoder_for,
    read_pixel_module,
    transfer_syntax,
)
from hds.dicom.errors import CORRUPT, RenderError, gettext_noop
from hds.dicom.processing import ByteArray, GreyPipeline, Palette, colour_to_rgb
from hds.dicom.values import float_values, frame_value

__all__ = [
    "MAX_FRAME_PIXELS",
    "RenderError",
    "Rendering",
    "can_decode",
    "gettext_noop",
    "make_thumbnail",
    "render_dataset",
]

logger = logging.getLogger(__name__)

JPEG_QUALITY: Final = 90
THUMBNAIL_QUALITY: Final = 85
# Pixel aspect ratios outside this band are treated as corrupt and ignored.
_ASPECT_BOUNDS: Final = (0.2, 5.0)


@dataclass(frozen=True)
class Rendering:
    """One JPEG per frame, all of the same size, in frame order."""

    frames: list[bytes]
    width: int
    height: int
    # The window applied to the first frame, in modality units (e.g. HU): the file's values
    # as written, or the automatic window (LINEAR_EXACT, PS3.3 C.11.2.1.3.2). None for colour
    # images and when the file's VOI LUT Sequence was applied instead.
    window_center: float | None
    window_width: float | None


def make_thumbnail(jpeg: bytes, *, size: int = 160) -> bytes:
    """Shrink a JPEG to fit a `size` x `size` box, keeping its aspect ratio.

    Images already small enough are re-encoded but never enlarged.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
            # thumbnail() also asks the JPEG decoder for a reduced-size decode (draft mode).
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            thumbnail = image if image.mode in ("L", "RGB") else image.convert("RGB")
            out = io.BytesIO()
            thumbnail.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise RenderError(gettext_noop("Not a readable JPEG image")) from None
    return out.getvalue()


def render_dataset(ds: Dataset, *, max_size: int = 2048, max_frames: int = 2000) -> Rendering:
    """Render every frame of `ds` as an 8-bit JPEG no larger than `max_size` on either side.

    Greyscale: Modality LUT (rescale or LUT sequence, per frame for enhanced multi-frame),
    then the file's window (first value), else its VOI LUT, else an automatic window taken
    from the first frame and kept for all frames so that a cine does not flicker.
    Raises `RenderError` for anything that cannot be shown, including more than
    `max_frames` frames.
    """
    if max_size < 1 or max_frames < 1:
        raise ValueError("max_size and max_frames must be at least 1")
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise RenderError(gettext_noop("Not an image (no pixel data)"))
    try:
        decoder = decoder_for(transfer_syntax(ds))
        # Corrupt values may overflow; the results are clipped, so numpy need not warn.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _render(ds, decoder, max_size=max_size, max_frames=max_frames)
    except RenderError:
        raise
    except Exception as exc:
        # Library messages may quote element values: log the type only, chain nothing.
        logger.warning("Rendering failed unexpectedly: %s", type(exc).__name__)
        raise RenderError(gettext_noop("This image could not be rendered")) from None


# --- The pipeline ---------------------------------------------------------------------


def _render(ds: Dataset, decoder: Decoder, *, max_size: int, max_frames: int) -> Rendering:
    module = read_pixel_module(ds)
    if module.frames > max_frames:
        raise RenderError(
            gettext_noop("Too many frames (the limit is %(limit)s)"), limit=max_frames
        )
    if module.rows * module.columns > MAX_FRAME_PIXELS:
        # A header can promise any size; refuse before a decoder allocates it (ASVS 5.2.6).
        raise RenderError(
            gettext_noop("The image is too large for a preview (at most %(limit)s megapixels)"),
            limit=MAX_FRAME_PIXELS // 1_000_000,
        )
    width, height = _output_size(ds, module, max_size)
    grey: GreyPipeline | None = None
    palette: Palette | None = None
    jpegs: list[bytes] = []
    first_window: tuple[float, float] | None = None
    for index, (arr, photometric) in enumerate(decoded_frames(ds, decoder, module)):
        if len(jpegs) == module.frames:
            break  # pydicom allows excess frames in the data; the header is the authority
        window: tuple[float, float] | None = None
        if arr.ndim == 3:
            pixels = colour_to_rgb(arr, photometric, module.bits_stored)
        elif photometric == "PALETTE COLOR":
            palette = palette or Palette.from_dataset(ds)
            pixels = palette.apply(arr)
        else:
            grey = grey or GreyPipeline(ds, module)
            pixels, window = grey.render(arr, index)
        if index == 0:
            first_window = window
        jpegs.append(_encode_jpeg(pixels, (width, height)))
    if not jpegs:
        raise RenderError(CORRUPT)
    return Rendering(
        frames=jpegs,
        width=width,
        height=height,
        window_center=first_window[0] if first_window else None,
        window_width=first_window[1] if first_window else None,
    )


def _output_size(ds: Dataset, module: PixelModule, max_size: int) -> tuple[int, int]:
    """Fit the frame into `max_size`, stretching rows for non-square pixels."""
    width, height = float(module.columns), float(module.rows) * _pixel_aspect(ds)
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _pixel_aspect(ds: Dataset) -> float:
    """Row spacing over column spacing: PS3.3 C.7.6.3.1.7, else the Pixel Spacing pair."""
    candidates = (
        ds.get("PixelAspectRatio"),
        frame_value(ds, 0, "PixelMeasuresSequence", "PixelSpacing"),
        ds.get("ImagerPixelSpacing"),
    )
    for candidate in candidates:
        pair = float_values(candidate)
        if len(pair) == 2 and pair[0] > 0 and pair[1] > 0:
            ratio = pair[0] / pair[1]
            if _ASPECT_BOUNDS[0] <= ratio <= _ASPECT_BOUNDS[1]:
                return ratio if abs(ratio - 1) > 0.01 else 1.0
            return 1.0
    return 1.0


def _encode_jpeg(pixels: ByteArray, size: tuple[int, int]) -> bytes:
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    if image.mode == "RGB":
        # 4:4:4 keeps the coloured text and calipers of ultrasound readable.
        image.save(out, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    else:
        image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
