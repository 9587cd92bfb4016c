"""The DICOMDIR of a study download (PS3.10 Basic Directory, PS3.3 Annex F), built in memory.

The download ZIP holds ``DICOMDIR`` at its root next to ``DICOM/`` (the File-set) and ``JPEG/``
(not part of it). Each instance is ``DICOM/Sxxxx/Ixxxx`` as given by :func:`file_id_for`: File ID
components are at most 8 characters of ``A-Z0-9_`` without an extension (PS3.10 8.2), and the same
tuple names the ZIP member (``"/".join(file_id)``) and the record's Referenced File ID.

Why not ``pydicom.fileset.FileSet``: ``FileSet()`` creates a temporary directory and
``add()``/``add_custom()`` save every instance into it (health data on disk), ``write()`` copies
the files into the File-set folder, and the only in-memory DICOMDIR encoder is the private
``FileSet._write_dicomdir``. So this module builds the records itself and lets pydicom encode
the File Meta, the header elements and each record, in two passes like ``_write_dicomdir``: encode
every record once with zero offsets, which gives every item's position (item tags counted from the
first byte of the file, preamble included, PS3.3 F.3.2.1); then write Offset of the Next Directory
Record and Offset of Referenced Lower-Level Directory Entity into the encoded records (fixed-size
UL values, so no length changes), set the root's first/last offsets, and join the records as
explicit-length items of the Directory Record Sequence (PS3.5 7.5). Patching bytes instead of
encoding everything a second time halves the time (10,000 instances: about 2 s instead of 4 s).
A length check guards the arithmetic; the tests read the result back with ``FileSet`` and dcmtk.

Records: PATIENT → STUDY → SERIES → leaf (PS3.3 F.4). The leaf is SR DOCUMENT, KEY OBJECT DOC or
ENCAP DOC for those SOP classes when the instance has that record's Type 1 keys (PS3.3 F.5.21,
F.5.22, F.5.27), else IMAGE, which carries only Instance Number. Other non-image record types (RT,
PRESENTATION, WAVEFORM, ...) need keys this archive does not extract, so they get IMAGE too:
viewers still list and open the file, they just don't know its kind from the DICOMDIR.

Values are cleaned to their VR (length, character repertoire, DA/TM syntax) so a bad header never
yields a malformed DICOMDIR. A Type 1 key that the instance lacks is invented only when it is an
identifier or an ordering number (Patient ID, Study ID, Series and Instance Number, Modality "OT"),
as dcmtk's ``dcmgpdir --invent`` does; a missing Study Date or Time is left empty rather than made
up, because a wrong date misleads a reader of the images and an empty one does not. Records holding
non-ASCII text declare Specific Character Set ``ISO_IR 192`` (UTF-8, PS3.3 F.5 "1C").

The output is deterministic (the File-set UID is a name-based UUID of the contents), so the same
study always yields the same bytes and a ZIP download can resume with an HTTP Range request.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    AcquisitionContextSRStorage,
    BasicTextSRStorage,
    ChestCADSRStorage,
    ColonCADSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EncapsulatedCDAStorage,
    EncapsulatedMTLStorage,
    EncapsulatedOBJStorage,
    EncapsulatedPDFStorage,
    EncapsulatedSTLStorage,
    EnhancedSRStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ExtensibleSRStorage,
    ImplantationPlanSRStorage,
    ImplicitVRLittleEndian,
    KeyObjectSelectionDocumentStorage,
    MacularGridThicknessAndVolumeReportStorage,
    MammographyCADSRStorage,
    MediaStorageDirectoryStorage,
    PatientRadiationDoseSRStorage,
    PerformedImagingAgentAdministrationSRStorage,
    PlannedImagingAgentAdministrationSRStorage,
    ProcedureLogStorage,
    RadiopharmaceuticalRadiationDoseSRStorage,
    SimplifiedAdultEchoSRStorage,
    SpectaclePrescriptionReportStorage,
    XRayRadiationDoseSRStorage,
)

__all__ = [
    "DicomDirInstance",
    "build_dicomdir",
    "dicomdir_entry_from_dataset",
    "file_id_for",
]

DICOM_FOLDER = "DICOM"
UTF8_CHARSET = "ISO_IR 192"

_FILE_ID_COMPONENT = re.compile(r"[A-Z0-9_]{1,8}")
_MAX_FILE_ID_DEPTH = 8  # PS3.10 8.2: at most 8 components
_MAX_INDEX = 9_999_999  # "S" or "I" plus 7 digits is the 8-character limit
_FILESET_ID = re.compile(r"[A-Z0-9_ ]{0,16}")  # CS
_UID = re.compile(r"[0-9.]{1,64}")
_DATE = re.compile(r"[0-9]{8}")
_TIME = re.compile(r"[0-9]{2}([0-9]{2}([0-9]{2}(\.[0-9]{1,6})?)?)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")  # backslash is the VM separator
_CS_INVALID = re.compile(r"[^A-Z0-9 _]")
_IS_MIN, _IS_MAX = -(2**31), 2**31 - 1  # PS3.5 6.2: IS range

_FIRST_OFFSET = "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity"
_LAST_OFFSET = "OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity"
_NEXT_OFFSET = "OffsetOfTheNextDirectoryRecord"
_LOWER_OFFSET = "OffsetOfReferencedLowerLevelDirectoryEntity"
# Explicit VR Little Endian encodings (PS3.5 7.1.2, 7.5): tag, VR, (reserved,) length.
_SEQUENCE_ELEMENT = b"\x04\x00\x20\x12SQ\x00\x00"  # (0004,1220), then a 4-byte length
_SEQUENCE_HEADER = len(_SEQUENCE_ELEMENT) + 4
_ITEM_TAG = b"\xfe\xff\x00\xe0"  # (FFFE,E000), then a 4-byte length
_ITEM_HEADER = len(_ITEM_TAG) + 4
_NEXT_OFFSET_ELEMENT = b"\x04\x00\x00\x14UL\x04\x00"  # (0004,1400) UL, 4 bytes
_LOWER_OFFSET_ELEMENT = b"\x04\x00\x20\x14UL\x04\x00"  # (0004,1420) UL, 4 bytes
_RECORD_HEAD = 32  # records are in tag order: (0004,1400) starts at byte 0, (0004,1420) at 22
_RECORD_IN_USE = 0xFFFF
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hds:archive:dicomdir")

_SR_CLASSES = frozenset(
    {
        BasicTextSRStorage,
        EnhancedSRStorage,
        ComprehensiveSRStorage,
        Comprehensive3DSRStorage,
        ExtensibleSRStorage,
        MammographyCADSRStorage,
        ChestCADSRStorage,
        ColonCADSRStorage,
        ProcedureLogStorage,
        XRayRadiationDoseSRStorage,
        RadiopharmaceuticalRadiationDoseSRStorage,
        PatientRadiationDoseSRStorage,
        SpectaclePrescriptionReportStorage,
        MacularGridThicknessAndVolumeReportStorage,
        ImplantationPlanSRStorage,
        AcquisitionContextSRStorage,
        SimplifiedAdultEchoSRStorage,
        PlannedImagingAgentAdministrationSRStorage,
        PerformedImagingAgentAdministrationSRStorage,
    }
)
_ENCAPSULATED_CLASSES = frozenset(
    {
        EncapsulatedPDFStorage,
        EncapsulatedCDAStorage,
        EncapsulatedSTLStorage,
        EncapsulatedOBJStorage,
        EncapsulatedMTLStorage,
    }
)


def file_id_for(series_index: int, instance_index: int) -> tuple[str, ...]:
    """Return the File ID of an instance: ``("DICOM", "S0001", "I0001")`` for ``(1, 1)``.

    Series indexes must be unique within one ZIP (count them across studies); numbers are padded
    to 4 digits and may grow to 7, so ``file_id_for(12, 10000)`` is ``("DICOM", "S0012",
    "I10000")``. The ZIP member name is ``"/".join(file_id)``.
    """
    for index in (series_index, instance_index):
        if not 0 <= index <= _MAX_INDEX:
            raise ValueError(f"index must be between 0 and {_MAX_INDEX}")
    return (DICOM_FOLDER, f"S{series_index:04d}", f"I{instance_index:04d}")


@dataclass(frozen=True)
class DicomDirInstance:
    """What the directory records of one instance need, taken from its dataset.

    The fields after ``instance_number`` serve only the SR DOCUMENT, KEY OBJECT DOC and ENCAP DOC
    records; ``concept_name`` is (code value, coding scheme designator, code meaning).
    """

    file_id: tuple[str, ...]
    patient_id: str
    patient_name: str
    patient_birth_date: str
    patient_sex: str
    study_instance_uid: str
    study_date: str
    study_time: str
    study_description: str
    accession_number: str
    study_id: str
    referring_physician_name: str
    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    instance_number: int | None
    content_date: str = ""
    content_time: str = ""
    completion_flag: str = ""
    verification_flag: str = ""
    concept_name: tuple[str, str, str] | None = None
    document_title: str = ""
    mime_type: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.file_id) <= _MAX_FILE_ID_DEPTH or not all(
            _FILE_ID_COMPONENT.fullmatch(part) for part in self.file_id
        ):
            raise ValueError("file_id must be 1 to 8 components of 1 to 8 characters A-Z0-9_")
        for uid_field in (
            "study_instance_uid",
            "series_instance_uid",
            "sop_class_uid",
            "sop_instance_uid",
            "transfer_syntax_uid",
        ):
            if not _UID.fullmatch(getattr(self, uid_field)):
                raise ValueError(f"{uid_field} is missing or not a valid UID")

    @property
    def record_type(self) -> str:
        """The Directory Record Type of this instance's leaf record (see the module docstring)."""
        has_content_time = bool(_date(self.content_date) and _time(self.content_time))
        has_concept = _code_item(self.concept_name) is not None
        if self.sop_class_uid in _SR_CLASSES:
            flags = (_cs(self.completion_flag), _cs(self.verification_flag))
            if all(flags) and has_content_time and has_concept:
                return "SR DOCUMENT"
        elif self.sop_class_uid == KeyObjectSelectionDocumentStorage:
            if has_content_time and has_concept:
                return "KEY OBJECT DOC"
        elif self.sop_class_uid in _ENCAPSULATED_CLASSES and _text(self.mime_type, 64):
            return "ENCAP DOC"
        return "IMAGE"


def dicomdir_entry_from_dataset(ds: Dataset, file_id: tuple[str, ...]) -> DicomDirInstance:
    """Extract a :class:`DicomDirInstance` from an instance; missing attributes become empty.

    Study Date and Time fall back to the series, acquisition and content values, as dcmtk does.
    Raises ``ValueError`` only when a UID the records must reference is missing or invalid.
    """
    meta = getattr(ds, "file_meta", None) or Dataset()
    return DicomDirInstance(
        file_id=file_id,
        patient_id=_get(ds, "PatientID"),
        patient_name=_get(ds, "PatientName"),
        patient_birth_date=_get(ds, "PatientBirthDate"),
        patient_sex=_get(ds, "PatientSex"),
        study_instance_uid=_get(ds, "StudyInstanceUID"),
        study_date=_first_of(ds, "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"),
        study_time=_first_of(ds, "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"),
        study_description=_get(ds, "StudyDescription"),
        accession_number=_get(ds, "AccessionNumber"),
        study_id=_get(ds, "StudyID"),
        referring_physician_name=_get(ds, "ReferringPhysicianName"),
        series_instance_uid=_get(ds, "SeriesInstanceUID"),
        modality=_get(ds, "Modality"),
        series_number=_get_int(ds, "SeriesNumber"),
        series_description=_get(ds, "SeriesDescription"),
        sop_class_uid=_get(ds, "SOPClassUID") or _get(meta, "MediaStorageSOPClassUID"),
        sop_instance_uid=_get(ds, "SOPInstanceUID"),
        transfer_syntax_uid=_get(meta, "TransferSyntaxUID") or _original_syntax(ds),
        instance_number=_get_int(ds, "InstanceNumber"),
        content_date=_get(ds, "ContentDate"),
        content_time=_get(ds, "ContentTime"),
        completion_flag=_get(ds, "CompletionFlag"),
        verification_flag=_get(ds, "VerificationFlag"),
        concept_name=_concept_name(ds),
        document_title=_get(ds, "DocumentTitle"),
        mime_type=_get(ds, "MIMETypeOfEncapsulatedDocument"),
    )


def build_dicomdir(instances: Sequence[DicomDirInstance], *, fileset_id: str = "HDS") -> bytes:
    """Return the DICOMDIR file (preamble, File Meta, Basic Directory) for ``instances``.

    Patients, studies, series and instances keep the order in which they first appear. Raises
    ``ValueError`` for an invalid ``fileset_id`` or a SOP Instance UID or File ID used twice.
    """
    if not _FILESET_ID.fullmatch(fileset_id):
        raise ValueError("fileset_id must be at most 16 characters of A-Z0-9_ and space")
    if len({instance.sop_instance_uid for instance in instances}) != len(instances):
        raise ValueError("a SOP Instance UID appears twice")
    if len({instance.file_id for instance in instances}) != len(instances):
        raise ValueError("a File ID appears twice")

    roots = _build_tree(instances)
    records = [node for root in roots for node in root.walk()]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    ds.file_meta.MediaStorageSOPInstanceUID = _fileset_uid(instances, fileset_id)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.FileSetID = fileset_id
    setattr(ds, _FIRST_OFFSET, 0)
    setattr(ds, _LAST_OFFSET, 0)
    ds.FileSetConsistencyFlag = 0  # PS3.3 F.3.2.1: no known inconsistencies

    # Pass 1: encode each record once; item offsets follow from the lengths (PS3.3 F.3.2.1: counted
    # from the first byte of the file, preamble included).
    header = _encode_header(ds)
    position = len(header) + _SEQUENCE_HEADER
    for node in records:
        node.offset = position
        node.encoded = bytearray(_encode_dataset(node.record))
        position += _ITEM_HEADER + len(node.encoded)
    # Pass 2: write the offsets into the encoded records; they are fixed-size UL values.
    for siblings in [roots, *(node.children for node in records)]:
        for node, following in zip(siblings, [*siblings[1:], None], strict=False):
            _patch_offset(node.encoded, _NEXT_OFFSET_ELEMENT, following.offset if following else 0)
            lower = node.children[0].offset if node.children else 0
            _patch_offset(node.encoded, _LOWER_OFFSET_ELEMENT, lower)
    if roots:
        setattr(ds, _FIRST_OFFSET, roots[0].offset)
        setattr(ds, _LAST_OFFSET, roots[-1].offset)
        header = _encode_header(ds)
    # PS3.5 7.5.1: a Sequence of Items, each with an explicit length.
    items = b"".join(
        _ITEM_TAG + struct.pack("<I", len(node.encoded)) + node.encoded for node in records
    )
    encoded = header + _SEQUENCE_ELEMENT + struct.pack("<I", len(items)) + items
    if len(encoded) != position:
        raise RuntimeError("DICOMDIR encoding does not match its computed offsets")
    return encoded


def _patch_offset(encoded: bytearray, element: bytes, value: int) -> None:
    """Set the UL value of ``element`` (tag, VR and length bytes), one of a record's first ones."""
    start = encoded.find(element)
    if not 0 <= start < _RECORD_HEAD:
        raise RuntimeError("directory record does not start with its offset elements")
    encoded[start + len(element) : start + len(element) + 4] = struct.pack("<I", value)


@dataclass(eq=False)
class _Node:
    record: Dataset
    children: list[_Node] = field(default_factory=list)
    index: dict[str, _Node] = field(default_factory=dict)
    offset: int = 0
    encoded: bytearray = field(default_factory=bytearray)

    def walk(self) -> Iterator[_Node]:
        """This node and its descendants in the order of the Directory Record Sequence."""
        yield self
        for child in self.children:
            yield from child.walk()

    def add(self, key: str, record: Dataset) -> _Node:
        node = self.index[key] = _Node(record)
        self.children.append(node)
        return node


def _build_tree(instances: Sequence[DicomDirInstance]) -> list[_Node]:
    top = _Node(Dataset())
    study_count = 0
    for instance in instances:
        patient_id = _text(instance.patient_id, 64)
        # Without a Patient ID, instances of the same name and birth date are one patient.
        patient_key = (
            f"id:{patient_id}"
            if patient_id
            else f"anonymous:{instance.patient_name}\n{instance.patient_birth_date}"
        )
        patient = top.index.get(patient_key) or top.add(
            patient_key, _patient_record(instance, len(top.children) + 1)
        )
        study = patient.index.get(instance.study_instance_uid)
        if study is None:
            study_count += 1
            study = patient.add(instance.study_instance_uid, _study_record(instance, study_count))
        series = study.index.get(instance.series_instance_uid) or study.add(
            instance.series_instance_uid, _series_record(instance, len(study.children) + 1)
        )
        series.add(instance.sop_instance_uid, _leaf_record(instance, len(series.children) + 1))
    return top.children


def _record(record_type: str, **values: Any) -> Dataset:
    record = Dataset()
    setattr(record, _NEXT_OFFSET, 0)
    record.RecordInUseFlag = _RECORD_IN_USE
    setattr(record, _LOWER_OFFSET, 0)
    record.DirectoryRecordType = record_type
    has_non_ascii = False
    for keyword, value in values.items():
        if value is None:
            continue  # a Type 3 key without a value is left out
        setattr(record, keyword, value)
        has_non_ascii |= _has_non_ascii(value)
    if has_non_ascii:
        record.SpecificCharacterSet = UTF8_CHARSET
    return record


def _has_non_ascii(value: object) -> bool:
    if isinstance(value, str):
        return not value.isascii()
    if isinstance(value, DicomSequence):
        return any(_has_non_ascii(element.value) for item in value for element in item)
    return False


def _patient_record(instance: DicomDirInstance, position: int) -> Dataset:
    sex = _cs(instance.patient_sex)
    return _record(
        "PATIENT",
        PatientName=_person_name(instance.patient_name),
        PatientID=_text(instance.patient_id, 64) or f"HDSPATIENT{position:04d}",
        PatientBirthDate=_date(instance.patient_birth_date) or None,
        PatientSex=sex if sex in {"M", "F", "O"} else None,
    )


def _study_record(instance: DicomDirInstance, number: int) -> Dataset:
    return _record(
        "STUDY",
        StudyDate=_date(instance.study_date),
        StudyTime=_time(instance.study_time),
        StudyDescription=_text(instance.study_description, 64),
        StudyInstanceUID=instance.study_instance_uid,
        StudyID=_text(instance.study_id, 16) or str(number),
        AccessionNumber=_text(instance.accession_number, 16),
        ReferringPhysicianName=_person_name(instance.referring_physician_name) or None,
    )


def _series_record(instance: DicomDirInstance, position: int) -> Dataset:
    return _record(
        "SERIES",
        Modality=_cs(instance.modality) or "OT",
        SeriesInstanceUID=instance.series_instance_uid,
        SeriesNumber=_integer(instance.series_number, position),
        SeriesDescription=_text(instance.series_description, 64) or None,
    )


def _leaf_record(instance: DicomDirInstance, position: int) -> Dataset:
    record_type = instance.record_type
    specific: dict[str, Any] = {}
    if record_type in {"SR DOCUMENT", "KEY OBJECT DOC", "ENCAP DOC"}:
        specific["ContentDate"] = _date(instance.content_date)
        specific["ContentTime"] = _time(instance.content_time)
        code = _code_item(instance.concept_name)
        specific["ConceptNameCodeSequence"] = DicomSequence([code] if code else [])
    if record_type == "SR DOCUMENT":
        specific["CompletionFlag"] = _cs(instance.completion_flag)
        specific["VerificationFlag"] = _cs(instance.verification_flag)
    if record_type == "ENCAP DOC":
        specific["DocumentTitle"] = _text(instance.document_title, 1024)  # ST
        specific["MIMETypeOfEncapsulatedDocument"] = _text(instance.mime_type, 64)
    return _record(
        record_type,
        ReferencedFileID=list(instance.file_id),
        ReferencedSOPClassUIDInFile=instance.sop_class_uid,
        ReferencedSOPInstanceUIDInFile=instance.sop_instance_uid,
        ReferencedTransferSyntaxUIDInFile=instance.transfer_syntax_uid,
        InstanceNumber=_integer(instance.instance_number, position),
        **specific,
    )


def _code_item(concept_name: tuple[str, str, str] | None) -> Dataset | None:
    if concept_name is None:
        return None
    value, scheme, meaning = concept_name
    value, scheme, meaning = _text(value, 16), _text(scheme, 16), _text(meaning, 64)
    if not (value and scheme and meaning):
        return None
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _fileset_uid(instances: Sequence[DicomDirInstance], fileset_id: str) -> UID:
    """A name-based UUID UID (PS3.5 B.2), so equal contents give byte-identical DICOMDIRs."""
    name = "\n".join(
        [fileset_id]
        + [f"{'/'.join(instance.file_id)} {instance.sop_instance_uid}" for instance in instances]
    )
    return UID(f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}")


def _encode(write: Callable[[DicomBytesIO], object]) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write(fp)
    return fp.getvalue()


def _encode_dataset(ds: Dataset) -> bytes:
    return _encode(lambda fp: write_dataset(fp, ds))


def _encode_header(ds: Dataset) -> bytes:
    """Preamble, ``DICM``, File Meta and ``ds``, all that precedes the record sequence."""

    def write(fp: DicomBytesIO) -> None:
        fp.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
        write_dataset(fp, ds)

    return _encode(write)


def _text(value: str, max_chars: int) -> str:
    return _CONTROL.sub(" ", value).strip()[:max_chars].rstrip()


def _person_name(value: str) -> str:
    # PS3.5 6.2: at most 64 characters per component group (alphabetic, ideographic, phonetic).
    groups = _CONTROL.sub(" ", value).strip().split("=")[:3]
    return "=".join(group[:64] for group in groups).rstrip("=")


def _cs(value: str) -> str:
    return _CS_INVALID.sub("", value.strip().upper())[:16]


def _date(value: str) -> str:
    value = value.strip()
    return value if _DATE.fullmatch(value) else ""


def _time(value: str) -> str:
    value = value.strip()
    return value if _TIME.fullmatch(value) else ""


def _integer(value: int | None, fallback: int) -> int:
    if value is None or not _IS_MIN <= value <= _IS_MAX:
        return fallback
    return value


def _get(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return ""  # an undecodable value counts as missing
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(item) for item in value)
    return str(value)


def _first_of(ds: Dataset, *keywords: str) -> str:
    return next((value for keyword in keywords if (value := _get(ds, keyword))), "")


def _get_int(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(_get(ds, keyword))
    except ValueError:
        try:
            return int(float(_get(ds, keyword)))  # "1.0" is a common IS mistake
        except (ValueError, OverflowError):
            return None


def _concept_name(ds: Dataset) -> tuple[str, str, str] | None:
    try:
        item = ds.ConceptNameCodeSequence[0]
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    value = _get(item, "CodeValue") or _get(item, "LongCodeValue") or _get(item, "URNCodeValue")
    return value, _get(item, "CodingSchemeDesignator"), _get(item, "CodeMeaning")


def _original_syntax(ds: Dataset) -> str:
    """The transfer syntax a dataset read without File Meta was encoded in."""
    is_implicit, is_little = ds.original_encoding
    if is_implicit:
        return str(ImplicitVRLittleEndian)
    return str(ExplicitVRBigEndian if is_little is False else ExplicitVRLittleEndian)
