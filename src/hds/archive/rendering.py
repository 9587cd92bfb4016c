"""Turn the pixel data of a DICOM dataset into display-ready JPEGs.

A pure function module: no Django, no disk, no network. Greyscale images go through the
standard display pipeline of PS3.4 N.2.1 (Modality LUT, then VOI LUT, then the inversion that
MONOCHROME1 implies); colour images are brought to 8-bit RGB (PS3.3 C.7.6.3.1.2).

Every failure reaches the caller as `RenderError`, whose message is a short English reason
that is safe to show a user: it never carries a value read from the dataset.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.pixels.processing import apply_color_lut, convert_color_space
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

__all__ = ["RenderError", "Rendering", "can_decode", "make_thumbnail", "render_dataset"]

logger = logging.getLogger(__name__)

JPEG_QUALITY: Final = 90
THUMBNAIL_QUALITY: Final = 85

_PIXEL_KEYWORDS: Final = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_GREY: Final = frozenset({"MONOCHROME1", "MONOCHROME2"})
# Colour spaces that pydicom's decoders may still hand back untransformed; both use the
# YCbCr equations of PS3.3 C.7.6.3.1.2 (YBR_ICT is the same transform, ISO 15444-1 G.2).
_YBR_FULL: Final = frozenset({"YBR_FULL", "YBR_FULL_422", "YBR_ICT"})
# PS3.5 9.1: a UID is at most 64 characters of digits and dots.
_UID_PATTERN: Final = re.compile(r"[0-9]+(\.[0-9]+)*")
# Percentiles of the automatic window: ignore a few outliers (metal, air, text overlays).
_AUTO_PERCENTILES: Final = (0.5, 99.5)
# Enough samples for stable percentiles; bounds the time spent on a 40 MP mammogram.
_AUTO_MAX_SAMPLES: Final = 1 << 20
# Pixels per frame we decode for a preview: a mammogram has 20 M, a huge scan 100 M.
MAX_FRAME_PIXELS: Final = 128_000_000
# Pixel aspect ratios outside this band are treated as corrupt and ignored.
_ASPECT_BOUNDS: Final = (0.2, 5.0)


def gettext_noop(message: str) -> str:
    """Mark a reason for translation (Django's makemessages finds it); the web layer translates
    it when it shows it, in the reader's language. This module stays free of Django."""
    return message


_ATTRIBUTES_INVALID: Final = gettext_noop("Image attributes are missing or invalid")
_CORRUPT: Final = gettext_noop("Pixel data is truncated or corrupt")

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


class RenderError(Exception):
    """The dataset cannot be shown; the message is a short reason fit for a user.

    ``reason`` is the English text marked for translation, ``params`` fill its ``%(name)s``
    placeholders; ``str()`` gives the English sentence.
    """

    def __init__(self, reason: str, **params: str | int) -> None:
        super().__init__(reason % params if params else reason)
        self.reason = reason
        self.params = params


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


def can_decode(transfer_syntax_uid: str) -> bool:
    """Whether this environment has a pixel data decoder for the transfer syntax."""
    if len(transfer_syntax_uid) > 64 or not _UID_PATTERN.fullmatch(transfer_syntax_uid):
        return False
    try:
        decoder = get_decoder(UID(transfer_syntax_uid))
    except NotImplementedError:
        return False
    return bool(decoder.is_available)


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
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        raise RenderError(gettext_noop("Not an image (no pixel data)"))
    try:
        decoder = _decoder_for(_transfer_syntax(ds))
        # Corrupt values may overflow; the results are clipped, so numpy need not warn.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _render(ds, decoder, max_size=max_size, max_frames=max_frames)
    except RenderError:
        raise
    except Exception as exc:
        # Library messages may quote element values: log the type only, chain nothing.
        logger.warning("Rendering failed unexpectedly: %s", type(exc).__name__)
        raise RenderError(gettext_noop("This image could not be rendered")) from None


# --- Decoding -------------------------------------------------------------------------


def _transfer_syntax(ds: Dataset) -> UID:
    file_meta = getattr(ds, "file_meta", None)
    value = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if value:
        return UID(str(value))
    # No file meta (e.g. a dataset received over the network): it is native, and the
    # encoding it was read with tells which native syntax.
    is_implicit, is_little = ds.original_encoding
    if is_implicit is None or is_little is None:
        raise RenderError(gettext_noop("The transfer syntax is unknown"))
    if is_implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if is_little else ExplicitVRBigEndian


def _decoder_for(tsyntax: UID) -> Decoder:
    # Echo only transfer syntax names from the standard, never an arbitrary value.
    if tsyntax.type == "Transfer Syntax":
        missing = RenderError(gettext_noop("No decoder for %(name)s here"), name=tsyntax.name)
    else:
        missing = RenderError(gettext_noop("No decoder for this transfer syntax here"))
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise missing from None
    if not decoder.is_available:
        raise missing
    return decoder


@dataclass(frozen=True)
class _PixelModule:
    """The Image Pixel module values (PS3.3 C.7.6.3), checked before pydicom sees them."""

    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    is_signed: bool
    is_float: bool
    photometric_interpretation: str


def _read_pixel_module(ds: Dataset) -> _PixelModule:
    is_float = "PixelData" not in ds
    rows = _int_attribute(ds, "Rows")
    columns = _int_attribute(ds, "Columns")
    samples = _int_attribute(ds, "SamplesPerPixel")
    bits_allocated = _int_attribute(ds, "BitsAllocated")
    photometric = ds.get("PhotometricInterpretation")
    bits_stored: int | None
    representation: int | None
    if is_float:
        bits_stored, representation = bits_allocated, 1
    else:
        bits_stored = _int_attribute(ds, "BitsStored")
        representation = _int_attribute(ds, "PixelRepresentation")
    frames = _int_attribute(ds, "NumberOfFrames", default=1)
    if frames == 0:
        frames = 1  # a writer's slip that pydicom and common viewers read as one frame
    if (
        rows is None
        or columns is None
        or samples is None
        or bits_allocated is None
        or bits_stored is None
        or representation is None
        or not isinstance(photometric, str)
        or not 0 < rows < 1 << 16
        or not 0 < columns < 1 << 16
        or samples not in (1, 3)
        or not (bits_allocated == 1 or (bits_allocated % 8 == 0 and bits_allocated <= 64))
        or not 1 <= bits_stored <= bits_allocated
        or representation not in (0, 1)
        or frames is None
        or frames < 1
    ):
        raise RenderError(_ATTRIBUTES_INVALID)
    return _PixelModule(
        rows=rows,
        columns=columns,
        frames=frames,
        samples_per_pixel=samples,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        is_signed=representation == 1,
        is_float=is_float,
        photometric_interpretation=photometric.strip().upper(),
    )


def _decoded_frames(
    ds: Dataset, decoder: Decoder, module: _PixelModule
) -> Iterator[tuple[npt.NDArray[Any], str]]:
    """Yield each frame with the photometric interpretation it has after decoding.

    This is what `pydicom.pixels.iter_pixels` does, keeping the decoder's per-frame
    properties: a JPEG decoder may already have turned YCbCr into RGB.
    """
    frames = decoder.iter_array(
        ds,
        rows=module.rows,
        columns=module.columns,
        number_of_frames=module.frames,
        samples_per_pixel=module.samples_per_pixel,
        bits_allocated=module.bits_allocated,
    )
    while True:
        try:
            arr, properties = next(frames)
        except StopIteration:
            return
        except AttributeError:
            # pydicom's check for a missing Image Pixel element.
            raise RenderError(_ATTRIBUTES_INVALID) from None
        except NotImplementedError:
            raise RenderError(gettext_noop("This pixel format is not supported")) from None
        except (ValueError, RuntimeError, EOFError):
            # ValueError: length checks; RuntimeError: every decoding plugin failed.
            raise RenderError(_CORRUPT) from None
        photometric = properties.get("photometric_interpretation")
        if not isinstance(photometric, str):
            photometric = module.photometric_interpretation
        yield arr, photometric.strip().upper()


# --- The pipeline ---------------------------------------------------------------------


def _render(ds: Dataset, decoder: Decoder, *, max_size: int, max_frames: int) -> Rendering:
    module = _read_pixel_module(ds)
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
    grey: _GreyPipeline | None = None
    palette: _Palette | None = None
    jpegs: list[bytes] = []
    first_window: tuple[float, float] | None = None
    for index, (arr, photometric) in enumerate(_decoded_frames(ds, decoder, module)):
        if len(jpegs) == module.frames:
            break  # pydicom allows excess frames in the data; the header is the authority
        window: tuple[float, float] | None = None
        if arr.ndim == 3:
            pixels = _colour_to_rgb(arr, photometric, module.bits_stored)
        elif photometric == "PALETTE COLOR":
            palette = palette or _Palette.from_dataset(ds)
            pixels = palette.apply(arr)
        else:
            grey = grey or _GreyPipeline(ds, module)
            pixels, window = grey.render(arr, index)
        if index == 0:
            first_window = window
        jpegs.append(_encode_jpeg(pixels, (width, height)))
    if not jpegs:
        raise RenderError(_CORRUPT)
    return Rendering(
        frames=jpegs,
        width=width,
        height=height,
        window_center=first_window[0] if first_window else None,
        window_width=first_window[1] if first_window else None,
    )


def _output_size(ds: Dataset, module: _PixelModule, max_size: int) -> tuple[int, int]:
    """Fit the frame into `max_size`, stretching rows for non-square pixels."""
    width, height = float(module.columns), float(module.rows) * _pixel_aspect(ds)
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _pixel_aspect(ds: Dataset) -> float:
    """Row spacing over column spacing: PS3.3 C.7.6.3.1.7, else the Pixel Spacing pair."""
    candidates = (
        ds.get("PixelAspectRatio"),
        _frame_value(ds, 0, "PixelMeasuresSequence", "PixelSpacing"),
        ds.get("ImagerPixelSpacing"),
    )
    for candidate in candidates:
        pair = _float_values(candidate)
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


# --- Colour ---------------------------------------------------------------------------


def _colour_to_rgb(arr: npt.NDArray[Any], photometric: str, bits_stored: int) -> ByteArray:
    if arr.shape[-1] != 3:
        raise RenderError(_ATTRIBUTES_INVALID)
    pixels = _to_uint8(arr, bits_stored)
    if photometric in _YBR_FULL:
        pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
    elif photometric not in ("RGB", *_GREY):
        # YBR_RCT and the YBR_PARTIAL spaces are undone by the decoders when they can be.
        raise RenderError(gettext_noop("This colour space is not supported"))
    return pixels


def _to_uint8(arr: npt.NDArray[Any], bits: int) -> ByteArray:
    """Scale colour samples of `bits` stored bits to 0-255."""
    if arr.dtype == np.uint8 and bits >= 8:
        return arr.astype(np.uint8, copy=False)
    top = float(2**bits - 1) if np.issubdtype(arr.dtype, np.integer) else 1.0
    scaled = np.clip(arr.astype(np.float32) * np.float32(255.0 / top), 0, 255)
    pixels: ByteArray = np.rint(np.nan_to_num(scaled)).astype(np.uint8)
    return pixels


@dataclass(frozen=True)
class _Palette:
    """PALETTE COLOR as one 8-bit RGB table, built once per instance (PS3.3 C.7.6.3.1.5)."""

    first_mapped: int
    table: ByteArray

    @classmethod
    def from_dataset(cls, ds: Dataset) -> _Palette:
        descriptor = _int_values(ds.get("RedPaletteColorLookupTableDescriptor"))
        if len(descriptor) != 3:
            raise RenderError(gettext_noop("The colour palette is missing or invalid"))
        entries = descriptor[0] or 1 << 16
        first_mapped = _first_mapped(descriptor[1], ds)
        indices = np.arange(first_mapped, first_mapped + entries, dtype=np.int64)
        try:
            rgb = apply_color_lut(indices, ds)[:, :3]
        except (ValueError, AttributeError, TypeError, IndexError):
            raise RenderError(gettext_noop("The colour palette is missing or invalid")) from None
        # PS3.3 C.7.6.3.1.5: 16-bit entries span 0-65535, yet some writers store 8-bit values.
        top = 255.0 if rgb.dtype == np.uint8 or int(rgb.max(initial=0)) <= 255 else 65535.0
        table = np.rint(rgb.astype(np.float32) * np.float32(255.0 / top)).astype(np.uint8)
        return cls(first_mapped=first_mapped, table=table)

    def apply(self, arr: npt.NDArray[Any]) -> ByteArray:
        index = np.clip(arr.astype(np.int64) - self.first_mapped, 0, len(self.table) - 1)
        return self.table[index]


# --- Greyscale ------------------------------------------------------------------------

# Below this many pixels, mapping every pixel is as cheap as building a table.
_TABLE_MIN_PIXELS = 16_384


@dataclass(frozen=True)
class _Lut:
    """A LUT of PS3.3 C.11.1 / C.11.2: values below the first mapped one take entry 0."""

    first_mapped: int
    table: FloatArray

    def apply(self, values: npt.NDArray[Any]) -> FloatArray:
        bounded = np.clip(np.nan_to_num(values.astype(np.float64)), -(2.0**40), 2.0**40)
        index = np.rint(bounded).astype(np.int64)
        index -= self.first_mapped
        np.clip(index, 0, len(self.table) - 1, out=index)
        return self.table[index]


@dataclass(frozen=True)
class _Window:
    """A VOI window; `apply` maps modality values to 0.0 (black) .. 1.0 (white)."""

    center: float
    width: float
    function: str = "LINEAR_EXACT"

    def apply(self, values: FloatArray) -> FloatArray:
        center, width = np.float32(self.center), np.float32(self.width)
        if self.function == "SIGMOID":  # PS3.3 C.11.2.1.3.1
            exponent = np.clip(-4 * (values - center) / width, -60, 60)
            sigmoid: FloatArray = (1 / (1 + np.exp(exponent))).astype(np.float32)
            return sigmoid
        if self.function == "LINEAR":  # PS3.3 C.11.2.1.2.1
            if self.width == 1:
                return (values > center - np.float32(0.5)).astype(np.float32)
            scaled = (values - (center - np.float32(0.5))) / (width - 1) + np.float32(0.5)
        else:  # LINEAR_EXACT, PS3.3 C.11.2.1.3.2
            scaled = (values - center) / width + np.float32(0.5)
        clipped: FloatArray = np.clip(scaled, 0, 1).astype(np.float32)
        return clipped


class _GreyPipeline:
    """Modality LUT, VOI and MONOCHROME1 inversion for one instance (PS3.4 N.2.1)."""

    def __init__(self, ds: Dataset, module: _PixelModule) -> None:
        self._ds = ds
        self._module = module
        self._modality_lut = _modality_lut(ds)
        self._voi_lut = _voi_lut(ds)
        self._padding = _padding_range(ds, module)
        self._auto_window: _Window | None = None
        self._is_inverted = module.photometric_interpretation == "MONOCHROME1"

    def render(
        self, arr: npt.NDArray[Any], index: int
    ) -> tuple[ByteArray, tuple[float, float] | None]:
        if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2 and arr.size >= _TABLE_MIN_PIXELS:
            return self._render_by_table(arr, index)
        return self._map(arr, index)

    def _render_by_table(
        self, arr: npt.NDArray[Any], index: int
    ) -> tuple[ByteArray, tuple[float, float] | None]:
        """The same mapping, computed once per stored value that occurs and then looked up.

        Every step (modality LUT or rescale, window or VOI LUT, inversion) maps each stored
        value on its own, so mapping the range min..max (at most 65,536 values) and indexing
        gives identical pixels at a fraction of the cost of float arithmetic on every pixel.
        """
        low, high = int(arr.min()), int(arr.max())
        offsets = np.subtract(arr, low, dtype=np.int32)
        domain = np.arange(low, high + 1, dtype=np.int32)
        needs_auto = (
            self._auto_window is None
            and _frame_window(self._ds, index) is None
            and self._voi_lut is None
        )
        if needs_auto:
            table_values, has_modality = self._modality(domain, index)
            self._auto_window = self._automatic_window(
                arr, table_values[offsets], has_modality=has_modality
            )
        table, window = self._map(domain, index)
        return table[offsets], window

    def _map(
        self, arr: npt.NDArray[Any], index: int
    ) -> tuple[ByteArray, tuple[float, float] | None]:
        values, has_modality = self._modality(arr, index)
        window = _frame_window(self._ds, index)
        if window is not None:
            shown = window.apply(values)
        elif self._voi_lut is not None:
            shown = self._voi_lut.apply(values)
        else:
            window = self._auto_window = self._auto_window or self._automatic_window(
                arr, values, has_modality=has_modality
            )
            shown = window.apply(values)
        if self._is_inverted:
            # MONOCHROME1: the minimum is white. Its Presentation LUT Shape INVERSE
            # (PS3.3 C.8.11.6.1.2) describes this same inversion, so it is not applied twice.
            shown = 1 - shown
        pixels = np.rint(np.nan_to_num(shown) * 255).astype(np.uint8)
        return pixels, (window.center, window.width) if window is not None else None

    def _modality(self, arr: npt.NDArray[Any], index: int) -> tuple[FloatArray, bool]:
        if self._modality_lut is not None:
            return self._modality_lut.apply(arr), True
        slope = _first_float(
            _frame_value(self._ds, index, "PixelValueTransformationSequence", "RescaleSlope")
        )
        intercept = _first_float(
            _frame_value(self._ds, index, "PixelValueTransformationSequence", "RescaleIntercept")
        )
        values = arr.astype(np.float32)
        # A zero slope would flatten the image; treat it like a missing one.
        has_slope = slope is not None and slope not in {0.0, 1.0}
        if slope is not None and has_slope:
            values *= np.float32(slope)
        if intercept:
            values += np.float32(intercept)
        return values, has_slope or bool(intercept)

    def _automatic_window(
        self, arr: npt.NDArray[Any], values: FloatArray, *, has_modality: bool
    ) -> _Window:
        module = self._module
        if not module.is_float and not has_modality and module.bits_stored <= 8:
            # 1-bit masks and 8-bit ultrasound/photographs are meant to be seen as stored.
            top = float(2**module.bits_stored - 1)
            low = -float(2 ** (module.bits_stored - 1)) if module.is_signed else 0.0
            high = top + low
            return _Window(center=(low + high) / 2, width=high - low)
        sample = values
        if self._padding is not None:
            # PS3.3 C.7.5.1.1.2: padding is outside the image and must not drive the window.
            keep = (arr < self._padding[0]) | (arr > self._padding[1])
            if keep.any():
                sample = values[keep]
        sample = sample.ravel()
        step = max(1, sample.size // _AUTO_MAX_SAMPLES)
        sample = sample[::step]
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return _Window(center=0.5, width=1.0)
        low, high = (float(v) for v in np.percentile(sample, _AUTO_PERCENTILES))
        if high <= low:
            low, high = float(sample.min()), float(sample.max())
        if high <= low:
            high = low + 1  # a flat image shows black
        return _Window(center=(low + high) / 2, width=high - low)


def _frame_window(ds: Dataset, index: int) -> _Window | None:
    """The file's window for this frame: first value, valid for its VOI LUT Function."""
    center = _first_float(_frame_value(ds, index, "FrameVOILUTSequence", "WindowCenter"))
    width = _first_float(_frame_value(ds, index, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None:
        return None
    function = _frame_value(ds, index, "FrameVOILUTSequence", "VOILUTFunction")
    # PS3.3 C.11.2.1.3: absent means LINEAR; an unknown value is read the same way.
    name = function.strip().upper() if isinstance(function, str) else ""
    if name not in ("LINEAR_EXACT", "SIGMOID"):
        name = "LINEAR"
    if width < (1 if name == "LINEAR" else 0) or width == 0:
        return None
    return _Window(center=center, width=width, function=name)


def _modality_lut(ds: Dataset) -> _Lut | None:
    sequence = ds.get("ModalityLUTSequence")
    if not sequence:
        return None
    lut = _read_lut(sequence[0], ds)
    if lut is None:
        raise RenderError(gettext_noop("The Modality LUT is invalid"))
    return _Lut(first_mapped=lut.first_mapped, table=lut.table)


def _voi_lut(ds: Dataset) -> _Lut | None:
    """The first VOI LUT, normalised to 0..1; an unusable one falls back to automatic."""
    sequence = ds.get("VOILUTSequence")
    if not sequence:
        return None
    lut = _read_lut(sequence[0], ds)
    if lut is None:
        return None
    # The descriptor's bit depth is often larger than the data's (12-bit values declared
    # as 16): scale by the bits the table actually uses, as common viewers do.
    bits = max(1, int(float(lut.table.max(initial=0))).bit_length())
    return _Lut(first_mapped=lut.first_mapped, table=lut.table / np.float32(2**bits - 1))


def _read_lut(item: Dataset, ds: Dataset) -> _Lut | None:
    descriptor = _int_values(item.get("LUTDescriptor"))
    data = item.get("LUTData")
    if len(descriptor) != 3 or data is None:
        return None
    entries = descriptor[0] or 1 << 16
    if isinstance(data, bytes | bytearray):
        # OW: 16 bits an entry in the dataset's byte order (PS3.3 C.11.1.1.1).
        is_little = ds.original_encoding[1] is not False
        if len(data) == entries and descriptor[2] == 8:
            table = np.frombuffer(data, dtype=np.uint8)
        else:
            table = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2" if is_little else ">u2")
    else:
        table = np.asarray(_int_values(data), dtype=np.int64)
    table = table[:entries]
    if table.size == 0:
        return None
    return _Lut(first_mapped=_first_mapped(descriptor[1], ds), table=table.astype(np.float32))


def _padding_range(ds: Dataset, module: _PixelModule) -> tuple[float, float] | None:
    if module.is_float:
        return None
    value = _first_float(ds.get("PixelPaddingValue"))
    if value is None:
        return None
    limit = _first_float(ds.get("PixelPaddingRangeLimit"))
    if module.is_signed:
        value = float(_signed16(int(value)))
        limit = float(_signed16(int(limit))) if limit is not None else None
    if limit is None:
        return value, value
    return min(value, limit), max(value, limit)


# --- Reading element values safely ---------------------------------------------------
# Values of a received file may be empty, multi-valued or malformed; none of these helpers
# raises, and none puts a value in a message.


def _frame_value(ds: Dataset, index: int, sequence: str, keyword: str) -> Any:
    """A frame's value from the functional groups (PS3.3 C.7.6.16), else the top level."""
    for groups_keyword, item in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_keyword)
        if not groups or len(groups) <= item:
            continue
        macro = groups[item].get(sequence)
        if macro:
            value = macro[0].get(keyword)
            if value is not None and value != "":
                return value
    return ds.get(keyword)


def _first_float(value: Any) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _float_values(value: Any) -> list[float]:
    if not isinstance(value, MultiValue | list | tuple):
        return []
    numbers = [_first_float(v) for v in value]
    return [n for n in numbers if n is not None] if None not in numbers else []


def _int_values(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    if not isinstance(value, MultiValue | list | tuple):
        return []
    return (
        [v for v in value if isinstance(v, int)] if all(isinstance(v, int) for v in value) else []
    )


def _int_attribute(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    if isinstance(value, MultiValue | list | tuple):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _signed16(value: int) -> int:
    """A US-or-SS value read as US (PS3.5 6.2): reinterpret it as SS."""
    return value - (1 << 16) if value >= 1 << 15 else value


def _first_mapped(value: int, ds: Dataset) -> int:
    # PS3.3 C.11.1.1.1: the first mapped value is SS when the pixels are signed.
    return _signed16(value) if ds.get("PixelRepresentation") == 1 else value
