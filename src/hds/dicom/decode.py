"""Pixel data decoding: the transfer syntax, the decoder for it (pydicom's ``pixels.decoders``
and the plugins it finds), the Image Pixel module checked before pydicom sees it, and the decoded
frames. No LUTs or windowing here (``hds.dicom.processing``), no output formats
(``hds.dicom.rendering``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from hds.dicom.errors import ATTRIBUTES_INVALID, CORRUPT, RenderError, gettext_noop
from hds.dicom.values import int_attribute

PIXEL_KEYWORDS: Final = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# PS3.5 9.1: a UID is at most 64 characters of digits and dots.
_UID_PATTERN: Final = re.compile(r"[0-9]+(\.[0-9]+)*")
# Pixels per frame we decode for a preview: a mammogram has 20 M, a huge scan 100 M.
MAX_FRAME_PIXELS: Final = 128_000_000


def can_decode(transfer_syntax_uid: str) -> bool:
    """Whether this environment has a pixel data decoder for the transfer syntax."""
    if len(transfer_syntax_uid) > 64 or not _UID_PATTERN.fullmatch(transfer_syntax_uid):
        return False
    try:
        decoder = get_decoder(UID(transfer_syntax_uid))
    except NotImplementedError:
        return False
    return bool(decoder.is_available)


def transfer_syntax(ds: Dataset) -> UID:
    file_meta = getattr(ds, "file_meta", None)
    value = getattr(file_meta, "TransferSyntaxUID", None) if file_meta is not None else None
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


def decoder_for(tsyntax: UID) -> Decoder:
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
class PixelModule:
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


def read_pixel_module(ds: Dataset) -> PixelModule:
    is_float = "PixelData" not in ds
    rows = int_attribute(ds, "Rows")
    columns = int_attribute(ds, "Columns")
    samples = int_attribute(ds, "SamplesPerPixel")
    bits_allocated = int_attribute(ds, "BitsAllocated")
    photometric = ds.get("PhotometricInterpretation")
    bits_stored: int | None
    representation: int | None
    if is_float:
        bits_stored, representation = bits_allocated, 1
    else:
        bits_stored = int_attribute(ds, "BitsStored")
        representation = int_attribute(ds, "PixelRepresentation")
    frames = int_attribute(ds, "NumberOfFrames", default=1)
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
        raise RenderError(ATTRIBUTES_INVALID)
    return PixelModule(
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


def decoded_frames(
    ds: Dataset, decoder: Decoder, module: PixelModule
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
            raise RenderError(ATTRIBUTES_INVALID) from None
        except NotImplementedError:
            raise RenderError(gettext_noop("This pixel format is not supported")) from None
        except (ValueError, RuntimeError, EOFError):
            # ValueError: length checks; RuntimeError: every decoding plugin failed.
            raise RenderError(CORRUPT) from None
        photometric = properties.get("photometric_interpretation")
        if not isinstance(photometric, str):
            photometric = module.photometric_interpretation
        yield arr, photometric.strip().upper()
