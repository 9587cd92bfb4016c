"""DICOM without Django: reading headers and frames, decoding, display processing, rendering,
DICOM JSON, DICOMDIR and media types (docs/architecture.md).

The layout follows pydicom's own ``pixels`` package, decoders apart from LUTs and windowing:

- ``decode``: transfer syntax, decoder, the checked Image Pixel module, decoded frames;
- ``processing``: Modality/VOI LUT, windows, palettes, colour spaces to 8-bit;
- ``rendering``: JPEG previews and thumbnails (``render_dataset``, ``make_thumbnail``);
- ``frames``: a stored file's header, pixel locator, single frames, frame iteration, transcoding;
- ``dicomjson``, ``template``: DICOM JSON (PS3.18 F.2) and the per-instance template;
- ``dicomdir``: DICOMDIR reading and writing; ``media``: transfer syntaxes and media types;
- ``errors``, ``values``: ``RenderError`` and safe element readers.

Imports: the standard library, pydicom, numpy, Pillow and the decoder plugins only; files come
in as file objects (``frames.SourceFile``), never from the blob store (``tests/test_layers.py``).
"""
