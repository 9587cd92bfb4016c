"""Rendering DICOM pixel data to JPEGs: synthetic images with known values, then real corpora.

Pure functions: no database and no Django here.
"""

from __future__ import annotations

import ast
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import data_store
import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import Decoder
from pydicom.pixels.processing import convert_color_space
from pydicom.pixels.utils import pack_bits
from pydicom.uid import (
    JPEG2000,
    MPEG2MPML,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

import hds.dicom.decode
import hds.dicom.processing
import hds.dicom.rendering
from hds.dicom.rendering import RenderError, Rendering, can_decode, make_thumbnail, render_dataset

pytestmark: list[pytest.MarkDecorator] = []

HU_AIR, HU_SOFT_TISSUE, HU_BONE = -1000, 40, 1000


def _image(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def _pixels(jpeg: bytes) -> npt.NDArray[np.int64]:
    return np.asarray(_image(jpeg), dtype=np.int64)


def _dataset(arr: npt.NDArray[Any], photometric: str, bits_stored: int, **attrs: Any) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.PatientName = "Doe^Jane"
    ds.set_pixel_data(arr, photometric, bits_stored)
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def _ct(photometric: str = "MONOCHROME2") -> Dataset:
    """512 x 512 CT in three bands: air (left), soft tissue (middle), bone (right)."""
    hu = np.full((512, 512), HU_AIR, dtype=np.int16)
    hu[:, 170:342] = HU_SOFT_TISSUE
    hu[:, 342:] = HU_BONE
    return _dataset(
        (hu + 1024).astype(np.int16),
        photometric,
        16,
        RescaleIntercept=-1024,
        RescaleSlope=1,
        WindowCenter=40,
        WindowWidth=400,
    )


def _band_means(jpeg: bytes) -> tuple[float, float, float]:
    """Mean grey of the middle of each band, away from JPEG ringing at the edges."""
    pixels = _pixels(jpeg)
    return (
        float(pixels[200:300, 60:110].mean()),
        float(pixels[200:300, 230:280].mean()),
        float(pixels[200:300, 400:450].mean()),
    )


# --- Greyscale ------------------------------------------------------------------------


def test_ct_window_maps_hounsfield_units_to_grey() -> None:
    rendering = render_dataset(_ct())

    assert len(rendering.frames) == 1
    assert (rendering.width, rendering.height) == (512, 512)
    image = _image(rendering.frames[0])
    assert (image.format, image.mode, image.size) == ("JPEG", "L", (512, 512))
    air, soft_tissue, bone = _band_means(rendering.frames[0])
    assert air < 5
    assert abs(soft_tissue - 128) <= 10
    assert bone > 250
    assert (rendering.window_center, rendering.window_width) == (40.0, 400.0)


def test_monochrome1_is_inverted() -> None:
    rendering = render_dataset(_ct("MONOCHROME1"))

    air, soft_tissue, bone = _band_means(rendering.frames[0])
    assert air > 250
    assert abs(soft_tissue - 128) <= 10
    assert bone < 5


def test_first_of_several_windows_is_used() -> None:
    ds = _ct()
    ds.WindowCenter = [40, 400]
    ds.WindowWidth = [400, 2000]

    rendering = render_dataset(ds)

    assert (rendering.window_center, rendering.window_width) == (40.0, 400.0)
    assert abs(_band_means(rendering.frames[0])[1] - 128) <= 10


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_voi_lut_functions_put_the_center_at_mid_grey(function: str) -> None:
    ds = _ct()
    ds.VOILUTFunction = function

    air, soft_tissue, bone = _band_means(render_dataset(ds).frames[0])

    assert abs(soft_tissue - 128) <= 10
    assert air < 10
    assert bone > 245


def test_automatic_window_when_the_file_has_none_is_kept_for_all_frames() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint16) * 10 + 500, (64, 1))
    frames = np.stack([ramp, ramp * 2])  # the second frame is twice as bright
    rendering = render_dataset(_dataset(frames, "MONOCHROME2", 16))

    first, second = (_pixels(jpeg) for jpeg in rendering.frames)
    assert rendering.window_center is not None
    assert rendering.window_width is not None
    assert first[:, :10].mean() < 10
    assert first[:, -10:].mean() > 245
    assert 100 < first[:, 120:136].mean() < 156
    # The same window on a brighter frame saturates instead of being re-stretched.
    assert second[:, 128:].mean() > 250


def test_automatic_window_ignores_pixel_padding() -> None:
    hu = np.full((64, 64), -2000, dtype=np.int16)  # padding outside the scan circle
    hu[16:48, 16:48] = np.arange(32, dtype=np.int16) * 10
    ds = _dataset(hu, "MONOCHROME2", 16, PixelPaddingValue=-2000)

    pixels = _pixels(render_dataset(ds).frames[0])

    # With padding counted, the whole disc would be near white.
    assert pixels[20:44, 18:22].mean() < 40
    assert pixels[20:44, 42:46].mean() > 215


def test_signed_data_with_unused_high_bits_is_masked() -> None:
    clean = np.tile(np.arange(-2048, 2048, 16, dtype=np.int16), (32, 1))
    dirty = (clean.view(np.uint16) & 0x0FFF | 0xA000).view(np.int16)  # junk above bit 11
    ds_clean = _dataset(clean, "MONOCHROME2", 12, WindowCenter=0, WindowWidth=4096)
    ds_dirty = _dataset(clean, "MONOCHROME2", 12, WindowCenter=0, WindowWidth=4096)
    ds_dirty.PixelData = dirty.tobytes()

    clean_pixels = _pixels(render_dataset(ds_clean).frames[0])
    dirty_pixels = _pixels(render_dataset(ds_dirty).frames[0])

    assert np.abs(clean_pixels - dirty_pixels).max() <= 2
    assert clean_pixels[:, :8].mean() < 10
    assert clean_pixels[:, -8:].mean() > 245


def test_voi_lut_sequence_is_applied_when_there_is_no_window() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (32, 1))
    ds = _dataset(ramp, "MONOCHROME2", 8)
    item = Dataset()
    item.LUTDescriptor = [256, 0, 8]
    item.LUTData = list(range(255, -1, -1))  # an inverting LUT
    ds.VOILUTSequence = [item]

    rendering = render_dataset(ds)

    pixels = _pixels(rendering.frames[0])
    assert pixels[:, :8].mean() > 245
    assert pixels[:, -8:].mean() < 10
    assert rendering.window_center is None


def test_modality_lut_sequence_is_applied_before_the_window() -> None:
    stored = np.tile(np.repeat(np.arange(4, dtype=np.uint16), 16), (16, 1))
    ds = _dataset(stored, "MONOCHROME2", 16, WindowCenter=1000, WindowWidth=2000)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.LUTData = [0, 2000, 500, 1000]
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]

    pixels = _pixels(render_dataset(ds).frames[0])

    means = [pixels[:, 16 * k + 4 : 16 * k + 12].mean() for k in range(4)]
    assert means[0] < 5
    assert means[1] > 250
    assert abs(means[2] - 64) <= 10
    assert abs(means[3] - 128) <= 10


def test_one_bit_image_renders_black_and_white() -> None:
    mask = np.zeros((32, 64), dtype=np.uint8)
    mask[:, 32:] = 1
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = mask.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit = 0
    ds.PixelRepresentation = 0
    ds.PixelData = pack_bits(mask)

    pixels = _pixels(render_dataset(ds).frames[0])

    assert pixels[:, :24].mean() < 5
    assert pixels[:, 40:].mean() > 250


def test_float_pixel_data_renders_with_an_automatic_window() -> None:
    values = np.tile(np.linspace(-1.5, 2.5, 64, dtype=np.float32), (32, 1))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 32
    ds.FloatPixelData = values.tobytes()

    rendering = render_dataset(ds)

    pixels = _pixels(rendering.frames[0])
    assert pixels[:, :4].mean() < 10
    assert pixels[:, -4:].mean() > 245
    assert rendering.window_center is not None


# --- Colour ---------------------------------------------------------------------------


def _colour(k: int) -> tuple[int, int, int]:
    return (25 * k, 255 - 25 * k, (70 * k) % 256)


def test_multiframe_ultrasound_gives_one_jpeg_per_frame_in_order() -> None:
    frames = np.zeros((10, 48, 64, 3), dtype=np.uint8)
    for k in range(10):
        frames[k] = _colour(k)

    rendering = render_dataset(_dataset(frames, "RGB", 8, Modality="US"))

    assert len(rendering.frames) == 10
    assert (rendering.width, rendering.height) == (64, 48)
    assert rendering.window_center is None
    for k, jpeg in enumerate(rendering.frames):
        image = _image(jpeg)
        assert (image.mode, image.size) == ("RGB", (64, 48))
        mean = np.asarray(image, dtype=np.int64)[8:40, 8:56].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - np.array(_colour(k))).max() <= 6, k


def test_ybr_full_is_converted_to_rgb() -> None:
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:] = (200, 40, 90)
    ds = _dataset(convert_color_space(rgb, "RGB", "YBR_FULL"), "YBR_FULL", 8)

    mean = _pixels(render_dataset(ds).frames[0])[8:24, 8:24].reshape(-1, 3).mean(axis=0)

    assert np.abs(mean - np.array([200, 40, 90])).max() <= 6


def test_planar_configuration_one_is_interleaved() -> None:
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:] = (10, 120, 240)
    ds = _dataset(rgb, "RGB", 8)
    ds.PlanarConfiguration = 1
    ds.PixelData = np.moveaxis(rgb, -1, 0).tobytes()  # R plane, then G, then B

    mean = _pixels(render_dataset(ds).frames[0])[8:24, 8:24].reshape(-1, 3).mean(axis=0)

    assert np.abs(mean - np.array([10, 120, 240])).max() <= 6


def test_palette_colour_uses_the_lookup_table() -> None:
    index = np.tile(np.arange(256, dtype=np.uint8), (32, 1))
    ds = _dataset(index, "MONOCHROME2", 8)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ramp = np.arange(256, dtype="<u2") * 257
    for colour, data in (("Red", ramp), ("Green", ramp[::-1]), ("Blue", np.zeros_like(ramp))):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", data.tobytes())

    pixels = _pixels(render_dataset(ds).frames[0])

    left = pixels[:, :8].reshape(-1, 3).mean(axis=0)
    right = pixels[:, -8:].reshape(-1, 3).mean(axis=0)
    assert left[0] < 15
    assert left[1] > 240
    assert right[0] > 240
    assert right[1] < 15
    assert pixels[..., 2].max() < 15


# --- Size -----------------------------------------------------------------------------


def test_large_images_are_downscaled_keeping_the_aspect_ratio() -> None:
    ds = _dataset(np.zeros((256, 512), dtype=np.uint16), "MONOCHROME2", 16)

    rendering = render_dataset(ds, max_size=128)

    assert (rendering.width, rendering.height) == (128, 64)
    assert _image(rendering.frames[0]).size == (128, 64)


def test_pixel_aspect_ratio_stretches_rows() -> None:
    ds = _dataset(np.zeros((100, 100), dtype=np.uint8), "MONOCHROME2", 8)
    ds.PixelAspectRatio = [2, 1]  # rows twice as far apart as columns

    rendering = render_dataset(ds)

    assert (rendering.width, rendering.height) == (100, 200)


# --- Refusals -------------------------------------------------------------------------


def test_no_pixel_data_is_not_an_image() -> None:
    ds = Dataset()
    ds.PatientName = "Doe^Jane"

    with pytest.raises(RenderError, match=r"^Not an image \(no pixel data\)$"):
        render_dataset(ds)


def test_missing_decoder_names_the_transfer_syntax() -> None:
    ds = _ct()
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])

    with pytest.raises(RenderError, match=r"^No decoder for MPEG2 Main Profile / Main Level here$"):
        render_dataset(ds)


def test_unknown_transfer_syntax_is_not_echoed() -> None:
    ds = _ct()
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4.5")

    with pytest.raises(RenderError, match=r"^No decoder for this transfer syntax here$"):
        render_dataset(ds)


def test_truncated_pixel_data_is_refused() -> None:
    ds = _ct()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]

    with pytest.raises(RenderError, match=r"^Pixel data is truncated or corrupt$"):
        render_dataset(ds)


def test_corrupt_compressed_pixel_data_is_refused() -> None:
    ds = _ct()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xdb" + b"\x13" * 200])

    with pytest.raises(RenderError, match=r"^Pixel data is truncated or corrupt$"):
        render_dataset(ds)


def test_missing_image_attributes_are_refused() -> None:
    ds = _ct()
    del ds.Rows

    with pytest.raises(RenderError, match=r"^Image attributes are missing or invalid$"):
        render_dataset(ds)


def test_too_many_frames_are_refused_before_decoding() -> None:
    frames = np.zeros((5, 8, 8), dtype=np.uint8)

    with pytest.raises(RenderError, match=r"^Too many frames \(the limit is 4\)$"):
        render_dataset(_dataset(frames, "MONOCHROME2", 8), max_frames=4)


def test_unexpected_library_failure_is_generic_and_logs_the_type_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise KeyError("Doe^Jane")

    monkeypatch.setattr(Decoder, "iter_array", explode)

    with (
        caplog.at_level(logging.WARNING, logger="hds.dicom.rendering"),
        pytest.raises(RenderError) as excinfo,
    ):
        render_dataset(_ct())

    assert str(excinfo.value) == "This image could not be rendered"
    assert excinfo.value.__cause__ is None
    assert "KeyError" in caplog.text
    assert "Doe" not in caplog.text


def test_module_does_not_import_django() -> None:
    source = Path(hds.dicom.rendering.__file__).read_text(encoding="utf-8")
    imported: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)

    assert not [name for name in imported if name.split(".")[0] == "django"]


# --- Thumbnails and decoders ----------------------------------------------------------


def _jpeg(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white" if mode == "L" else (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "mode", "expected"),
    [
        ((400, 200), "RGB", (160, 80)),
        ((300, 900), "L", (53, 160)),
        ((64, 48), "RGB", (64, 48)),  # never enlarged
    ],
)
def test_thumbnail_fits_the_box_keeping_the_aspect_ratio(
    size: tuple[int, int], mode: str, expected: tuple[int, int]
) -> None:
    thumbnail = _image(make_thumbnail(_jpeg(size, mode)))

    assert thumbnail.format == "JPEG"
    assert thumbnail.mode == mode
    assert thumbnail.size == expected


def test_thumbnail_of_a_rendered_frame() -> None:
    jpeg = render_dataset(_ct()).frames[0]

    assert _image(make_thumbnail(jpeg, size=100)).size == (100, 100)


def test_thumbnail_refuses_what_is_not_a_jpeg() -> None:
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, format="PNG")

    for data in (b"", b"not an image", png.getvalue(), _jpeg((50, 50))[:100]):
        with pytest.raises(RenderError, match=r"^Not a readable JPEG image$"):
            make_thumbnail(data)


@pytest.mark.parametrize(
    "uid",
    [
        ExplicitVRLittleEndian,
        RLELossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEG2000Lossless,
        JPEG2000,
    ],
)
def test_can_decode_the_installed_syntaxes(uid: UID) -> None:
    assert can_decode(uid)


@pytest.mark.parametrize("uid", [MPEG2MPML, "1.2.3.4", "", "not a uid", "1." * 40])
def test_cannot_decode_unknown_syntaxes(uid: str) -> None:
    assert not can_decode(uid)


# --- Corpus: pydicom's own test files and pydicom-data --------------------------------
# The folders are listed directly: pydicom.data.get_testdata_files() may try to download.

CORPORA = {
    "pydicom": Path(pydicom.__file__).parent / "data" / "test_files",
    "pydicom-data": Path(data_store.__file__).parent / "data",
}

# Files that must render, one or more per transfer syntax and pixel layout.
MUST_RENDER = {
    "CT_small.dcm": "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
    "image_dfl.dcm": "1.2.840.10008.1.2.1.99",  # Deflated
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",  # RLE
    "SC_rgb_rle.dcm": "1.2.840.10008.1.2.5",
    "SC_rgb_jpeg_dcmtk.dcm": "1.2.840.10008.1.2.4.50",  # JPEG baseline, YBR_FULL
    "examples_ybr_color.dcm": "1.2.840.10008.1.2.4.50",  # multi-frame YBR_FULL_422
    "JPGExtended.dcm": "1.2.840.10008.1.2.4.51",  # JPEG extended, 12-bit
    "JPEG-LL.dcm": "1.2.840.10008.1.2.4.70",  # JPEG lossless
    "SC_rgb_jpeg_gdcm.dcm": "1.2.840.10008.1.2.4.70",
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",  # JPEG-LS
    "JPEGLSNearLossless_16.dcm": "1.2.840.10008.1.2.4.81",
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",  # JPEG 2000
    "US1_J2KR.dcm": "1.2.840.10008.1.2.4.90",
    "emri_small_jpeg_2k_lossless.dcm": "1.2.840.10008.1.2.4.90",
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",
    "US1_J2KI.dcm": "1.2.840.10008.1.2.4.91",
    "RG1_UNCI.dcm": "1.2.840.10008.1.2.1",  # MONOCHROME1
    "OBXXXX1A.dcm": "1.2.840.10008.1.2.1",  # PALETTE COLOR
    "liver.dcm": "1.2.840.10008.1.2.1",  # 1-bit segmentation, multi-frame
    "mlut_18.dcm": "1.2.840.10008.1.2.1",  # Modality LUT Sequence
    "vlut_04.dcm": "1.2.840.10008.1.2.1",  # VOI LUT Sequence
    "rtdose.dcm": "1.2.840.10008.1.2",  # 32-bit, multi-frame
    "SC_rgb_32bit.dcm": "1.2.840.10008.1.2.1",
}


def _corpus() -> list[Any]:
    params = []
    for name, root in CORPORA.items():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                label = f"{name}/{path.relative_to(root).as_posix()}"
                params.append(pytest.param(path, id=label))
    return params


CORPUS = _corpus()


def test_every_must_render_file_is_in_the_corpus() -> None:
    names = {os.path.basename(param.values[0]) for param in CORPUS}

    assert not set(MUST_RENDER) - names


def _render_or_reason(ds: Dataset) -> Rendering | str:
    try:
        return render_dataset(ds, max_size=256)
    except RenderError as exc:
        return str(exc)


# The corpora hold deliberately broken files; pydicom warns about these while reading them.
@pytest.mark.filterwarnings("ignore:Expected explicit VR, but found implicit VR:UserWarning")
@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
@pytest.mark.filterwarnings("ignore:Invalid value for VR IS:UserWarning")
@pytest.mark.filterwarnings("ignore:The pixel data is .* excess padding:UserWarning")
@pytest.mark.parametrize("path", CORPUS)
def test_corpus_file_renders_or_is_refused_with_a_reason(path: Path) -> None:
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError) as exc:
        pytest.skip(f"not readable by pydicom: {type(exc).__name__}")

    rendering = _render_or_reason(ds)
    if isinstance(rendering, str):
        assert rendering  # a reason for the user
        assert path.name not in MUST_RENDER, rendering
        return

    assert rendering.frames
    assert max(rendering.width, rendering.height) <= 256
    for jpeg in rendering.frames:
        image = _image(jpeg)
        assert image.format == "JPEG"
        assert image.size == (rendering.width, rendering.height)
    if path.name in MUST_RENDER:
        assert ds.file_meta.TransferSyntaxUID == MUST_RENDER[path.name]


# --- The table fast path gives the same pixels as mapping every pixel --------------------


def _lut_item(descriptor: list[int], data: list[int]) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = descriptor
    item.LUTData = data
    return item


@pytest.mark.parametrize(
    ("dtype", "photometric", "attrs"),
    [
        (np.int16, "MONOCHROME2", {"RescaleIntercept": -1024, "RescaleSlope": 1}),
        (np.int16, "MONOCHROME2", {"WindowCenter": 40, "WindowWidth": 400, "RescaleSlope": 0.5}),
        (np.uint16, "MONOCHROME1", {"WindowCenter": 900, "WindowWidth": 700}),
        (np.uint16, "MONOCHROME2", {"PixelPaddingValue": 0}),
        (
            np.int16,
            "MONOCHROME2",
            {"WindowCenter": 0, "WindowWidth": 1, "VOILUTFunction": "LINEAR"},
        ),
        (
            np.uint16,
            "MONOCHROME2",
            {"WindowCenter": 800, "WindowWidth": 300, "VOILUTFunction": "SIGMOID"},
        ),
        (
            np.uint16,
            "MONOCHROME2",
            {"VOILUTSequence": [_lut_item([256, 500, 8], list(range(256)))]},
        ),
        (np.uint8, "MONOCHROME2", {}),
    ],
)
def test_table_lookup_equals_per_pixel_mapping(
    dtype: type[np.integer[Any]], photometric: str, attrs: dict[str, Any]
) -> None:
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    low, high = max(info.min, -1500), min(info.max, 2500)
    arr = rng.integers(low, high, size=(256, 256), endpoint=True).astype(dtype)
    arr[:8] = 0  # some padding-valued rows
    ds = _dataset(arr, photometric, 8 * np.dtype(dtype).itemsize, **attrs)
    module = hds.dicom.decode.read_pixel_module(ds)

    fast = hds.dicom.processing.GreyPipeline(ds, module).render(arr, 0)
    slow = hds.dicom.processing.GreyPipeline(ds, module)._map(arr, 0)

    assert fast[1] == slow[1]
    np.testing.assert_array_equal(fast[0], slow[0])
