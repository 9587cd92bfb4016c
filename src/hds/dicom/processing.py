"""Pixel processing after decoding (PS3.4 N.2.1): Modality LUT, VOI LUT and windowing (given or
automatic), the MONOCHROME1 inversion, padding, palettes and colour spaces to 8-bit RGB
(PS3.3 C.7.6.3.1.2). Input: decoded numpy arrays (``hds.dicom.decode``); output: 8-bit arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, convert_color_space

from hds.dicom.decode import PixelModule
from hds.dicom.errors import ATTRIBUTES_INVALID, RenderError, gettext_noop
from hds.dicom.values import (
    first_float,
    frame_value,
    int_values,
    lut_first_mapped,
    signed16,
)

GREY: Final = frozenset({"MONOCHROME1", "MONOCHROME2"})
# Colour spaces that pydicom's decoders may still hand back untransformed; both use the
# YCbCr equations of PS3.3 C.7.6.3.1.2 (YBR_ICT is the same transform, ISO 15444-1 G.2).
_YBR_FULL: Final = frozenset({"YBR_FULL", "YBR_FULL_422", "YBR_ICT"})
# Percentiles of the automatic window: ignore a few outliers (metal, air, text overlays).
_AUTO_PERCENTILES: Final = (0.5, 99.5)
# Enough samples for stable percentiles; bounds the time spent on a 40 MP mammogram.
_AUTO_MAX_SAMPLES: Final = 1 << 20

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


def colour_to_rgb(arr: npt.NDArray[Any], photometric: str, bits_stored: int) -> ByteArray:
    if arr.shape[-1] != 3:
        raise RenderError(ATTRIBUTES_INVALID)
    pixels = _to_uint8(arr, bits_stored)
    if photometric in _YBR_FULL:
        pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
    elif photometric not in ("RGB", *GREY):
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
class Palette:
    """PALETTE COLOR as one 8-bit RGB table, built once per instance (PS3.3 C.7.6.3.1.5)."""

    first_mapped: int
    table: ByteArray

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Palette:
        descriptor = int_values(ds.get("RedPaletteColorLookupTableDescriptor"))
        if len(descriptor) != 3:
            raise RenderError(gettext_noop("The colour palette is missing or invalid"))
        entries = descriptor[0] or 1 << 16
        first_mapped = lut_first_mapped(descriptor[1], ds)
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


class GreyPipeline:
    """Modality LUT, VOI and MONOCHROME1 inversion for one instance (PS3.4 N.2.1)."""

    def __init__(self, ds: Dataset, module: PixelModule) -> None:
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
        slope = first_float(
            frame_value(self._ds, index, "PixelValueTransformationSequence", "RescaleSlope")
        )
        intercept = first_float(
            frame_value(self._ds, index, "PixelValueTransformationSequence", "RescaleIntercept")
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
    center = first_float(frame_value(ds, index, "FrameVOILUTSequence", "WindowCenter"))
    width = first_float(frame_value(ds, index, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None:
        return None
    function = frame_value(ds, index, "FrameVOILUTSequence", "VOILUTFunction")
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
    descriptor = int_values(item.get("LUTDescriptor"))
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
        table = np.asarray(int_values(data), dtype=np.int64)
    table = table[:entries]
    if table.size == 0:
        return None
    return _Lut(first_mapped=lut_first_mapped(descriptor[1], ds), table=table.astype(np.float32))


def _padding_range(ds: Dataset, module: PixelModule) -> tuple[float, float] | None:
    if module.is_float:
        return None
    value = first_float(ds.get("PixelPaddingValue"))
    if value is None:
        return None
    limit = first_float(ds.get("PixelPaddingRangeLimit"))
    if module.is_signed:
        value = float(signed16(int(value)))
        limit = float(signed16(int(limit))) if limit is not None else None
    if limit is None:
        return value, value
    return min(value, limit), max(value, limit)
