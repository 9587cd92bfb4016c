"""DICOMDIR: hierarchy, offsets, character sets and record types, read back by pydicom and dcmtk."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, config, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    ComprehensiveSRStorage,
    CTImageStorage,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    KeyObjectSelectionDocumentStorage,
    MediaStorageDirectoryStorage,
    MRImageStorage,
    generate_uid,
)

from hds.dicom.dicomdir import (
    DicomDirInstance,
    build_dicomdir,
    dicomdir_entry_from_dataset,
    file_id_for,
)

MUELLER = "Müller^Jürgen"
Tree = list[tuple[str, list[tuple[str, list[tuple[str, list[str]]]]]]]


def make_dataset(
    *,
    patient: tuple[str, str],
    study_uid: str,
    series_uid: str,
    number: int,
    sop_class: UID = CTImageStorage,
    modality: str = "CT",
    **extra: Any,
) -> Dataset:
    """A tiny synthetic instance without pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID, ds.PatientName = patient
    ds.PatientBirthDate = "19700517"
    ds.PatientSex = "M"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = "20240506"
    ds.StudyTime = "101500"
    ds.StudyID = "42"
    ds.AccessionNumber = "ACC1"
    ds.StudyDescription = "Thorax"
    ds.ReferringPhysicianName = "Doctor^Bob"
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.SeriesNumber = int(series_uid.rsplit(".", 1)[-1]) % 100
    ds.SeriesDescription = "Axial"
    ds.InstanceNumber = number
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return ds


def sample_study() -> list[tuple[tuple[str, ...], Dataset]]:
    """2 patients, 3 studies, 4 series, 10 instances, with their File IDs."""
    study_1, study_2, study_3 = generate_uid(), generate_uid(), generate_uid()
    series = [generate_uid() for _ in range(4)]
    layout = [  # (patient, study, series index, instances)
        (("P1", MUELLER), study_1, 0, 3),
        (("P1", MUELLER), study_1, 1, 3),
        (("P1", MUELLER), study_2, 2, 2),
        (("P2", "Smith^John"), study_3, 3, 2),
    ]
    instances = []
    for patient, study_uid, series_index, count in layout:
        for number in range(1, count + 1):
            ds = make_dataset(
                patient=patient,
                study_uid=study_uid,
                series_uid=series[series_index],
                number=number,
                sop_class=MRImageStorage if series_index == 1 else CTImageStorage,
                modality="MR" if series_index == 1 else "CT",
            )
            instances.append((file_id_for(series_index + 1, number), ds))
    return instances


def expected_tree(instances: list[tuple[tuple[str, ...], Dataset]]) -> Tree:
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    for _, ds in instances:
        studies = tree.setdefault(ds.PatientID, {})
        series = studies.setdefault(ds.StudyInstanceUID, {})
        series.setdefault(ds.SeriesInstanceUID, []).append(ds.SOPInstanceUID)
    return [
        (patient, [(study, list(series.items())) for study, series in studies.items()])
        for patient, studies in tree.items()
    ]


def build(instances: list[tuple[tuple[str, ...], Dataset]]) -> bytes:
    return build_dicomdir([dicomdir_entry_from_dataset(ds, file_id) for file_id, ds in instances])


def write_fileset(root: Path, instances: list[tuple[tuple[str, ...], Dataset]]) -> Path:
    """Write the DICOMDIR and its instances under ``root`` (synthetic test data only)."""
    for file_id, ds in instances:
        path = root.joinpath(*file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
    dicomdir = root / "DICOMDIR"
    dicomdir.write_bytes(build(instances))
    return dicomdir


def tree_from_offsets(ds: Dataset) -> Tree:
    """Walk the records by their offsets alone, as a media reader does (PS3.3 F.3.2.1)."""
    by_offset = {record.seq_item_tell: record for record in ds.DirectoryRecordSequence}

    def siblings(offset: int) -> Iterator[Dataset]:
        while offset:
            record = by_offset[offset]
            yield record
            offset = record.OffsetOfTheNextDirectoryRecord

    def below(record: Dataset) -> Iterator[Dataset]:
        return siblings(record.OffsetOfReferencedLowerLevelDirectoryEntity)

    roots = list(siblings(ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity))
    assert roots[-1].seq_item_tell == ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity
    assert [r.DirectoryRecordType for r in roots] == ["PATIENT"] * len(roots)
    tree: Tree = []
    for patient in roots:
        studies = []
        for study in below(patient):
            assert study.DirectoryRecordType == "STUDY"
            series_list = []
            for series in below(study):
                assert series.DirectoryRecordType == "SERIES"
                leaves = list(below(series))
                assert all(leaf.OffsetOfReferencedLowerLevelDirectoryEntity == 0 for leaf in leaves)
                series_list.append(
                    (series.SeriesInstanceUID, [r.ReferencedSOPInstanceUIDInFile for r in leaves])
                )
            studies.append((study.StudyInstanceUID, series_list))
        tree.append((patient.PatientID, studies))
    return tree


@pytest.fixture
def load_fileset() -> Iterator[Callable[[Path], FileSet]]:
    loaded: list[FileSet] = []

    def load(path: Path) -> FileSet:
        fileset = FileSet()
        loaded.append(fileset)
        fileset.load(path, raise_orphans=True)
        return fileset

    yield load
    for fileset in loaded:
        # FileSet has no public close(); its staging TemporaryDirectory warns when the GC finds it.
        fileset._stage["t"].cleanup()


def test_file_ids_are_conformant_components() -> None:
    assert file_id_for(1, 1) == ("DICOM", "S0001", "I0001")
    assert file_id_for(12, 10_000) == ("DICOM", "S0012", "I10000")
    assert file_id_for(9_999_999, 0) == ("DICOM", "S9999999", "I0000")
    for bad in [(10_000_000, 1), (1, -1)]:
        with pytest.raises(ValueError, match="index"):
            file_id_for(*bad)


def test_hierarchy_and_offsets_read_back_with_pydicom(
    tmp_path: Path, load_fileset: Callable[[Path], FileSet]
) -> None:
    instances = sample_study()
    data = build(instances)

    ds = dcmread(io.BytesIO(data))
    assert data[128:132] == b"DICM"
    assert ds.file_meta.MediaStorageSOPClassUID == MediaStorageDirectoryStorage
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.FileSetID == "HDS"
    assert ds.FileSetConsistencyFlag == 0
    assert tree_from_offsets(ds) == expected_tree(instances)
    records = ds.DirectoryRecordSequence
    assert [r.DirectoryRecordType for r in records].count("IMAGE") == 10
    assert all(r.RecordInUseFlag == 0xFFFF for r in records)

    fileset = load_fileset(write_fileset(tmp_path, instances))
    assert len(fileset) == 10
    assert len(fileset.find(PatientID="P1")) == 8
    assert fileset.find_values("StudyInstanceUID") == list(
        dict.fromkeys(ds.StudyInstanceUID for _, ds in instances)
    )
    by_uid = {ds.SOPInstanceUID: (file_id, ds) for file_id, ds in instances}
    for instance in fileset:
        file_id, source = by_uid[instance.SOPInstanceUID]
        assert Path(instance.path) == tmp_path.joinpath(*file_id)
        assert instance.ReferencedFileID == list(file_id)
        assert instance.ReferencedSOPClassUIDInFile == source.SOPClassUID
        assert instance.ReferencedTransferSyntaxUIDInFile == ExplicitVRLittleEndian
        assert instance.load().SOPInstanceUID == instance.SOPInstanceUID
        series, study, patient = instance.node.ancestors
        assert (series.record_type, study.record_type, patient.record_type) == (
            "SERIES",
            "STUDY",
            "PATIENT",
        )
        assert series._record.SeriesInstanceUID == source.SeriesInstanceUID
        assert study._record.StudyInstanceUID == source.StudyInstanceUID
        assert patient._record.PatientID == source.PatientID


def test_patient_study_and_series_keys_are_copied() -> None:
    ds = dcmread(io.BytesIO(build(sample_study()[:1])))
    patient, study, series, image = ds.DirectoryRecordSequence
    assert (patient.PatientName, patient.PatientBirthDate, patient.PatientSex) == (
        MUELLER,
        "19700517",
        "M",
    )
    assert (study.StudyDate, study.StudyTime, study.StudyID) == ("20240506", "101500", "42")
    assert (study.AccessionNumber, study.StudyDescription) == ("ACC1", "Thorax")
    assert study.ReferringPhysicianName == "Doctor^Bob"
    assert (series.Modality, series.SeriesDescription) == ("CT", "Axial")
    assert image.InstanceNumber == 1


def test_non_ascii_names_are_utf8_with_iso_ir_192() -> None:
    instances = sample_study()
    data = build(instances)
    assert "Müller^Jürgen".encode() in data

    records = dcmread(io.BytesIO(data)).DirectoryRecordSequence
    patients = [r for r in records if r.DirectoryRecordType == "PATIENT"]
    assert [str(p.PatientName) for p in patients] == [MUELLER, "Smith^John"]
    assert patients[0].SpecificCharacterSet == "ISO_IR 192"
    assert "SpecificCharacterSet" not in patients[1]  # plain ASCII needs no declaration


def test_the_same_instances_give_the_same_bytes() -> None:
    instances = sample_study()
    first = build(instances)
    assert build(instances) == first  # a resumed download must see identical bytes
    other = dcmread(io.BytesIO(build(instances[:-1])))
    assert (
        other.file_meta.MediaStorageSOPInstanceUID
        != dcmread(io.BytesIO(first)).file_meta.MediaStorageSOPInstanceUID
    )
    assert str(other.file_meta.MediaStorageSOPInstanceUID).startswith("2.25.")


def test_empty_fileset_is_a_valid_dicomdir() -> None:
    ds = dcmread(io.BytesIO(build_dicomdir([])))
    assert ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity == 0
    assert ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity == 0
    assert len(ds.DirectoryRecordSequence) == 0


def leaf_for(ds: Dataset) -> Dataset:
    data = build_dicomdir([dicomdir_entry_from_dataset(ds, file_id_for(1, 1))])
    leaf: Dataset = dcmread(io.BytesIO(data)).DirectoryRecordSequence[-1]
    return leaf


def concept(code: str, meaning: str) -> DicomSequence:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "LN", meaning
    return DicomSequence([item])


def test_leaf_record_types_follow_the_sop_class() -> None:
    base: dict[str, Any] = {
        "patient": ("P1", MUELLER),
        "study_uid": generate_uid(),
        "series_uid": generate_uid(),
        "number": 7,
    }
    content: dict[str, Any] = {"ContentDate": "20240506", "ContentTime": "101600"}

    sr = leaf_for(
        make_dataset(
            **base,
            sop_class=ComprehensiveSRStorage,
            modality="SR",
            CompletionFlag="COMPLETE",
            VerificationFlag="UNVERIFIED",
            ConceptNameCodeSequence=concept("18748-4", "Diagnostic Imaging Report"),
            **content,
        )
    )
    assert sr.DirectoryRecordType == "SR DOCUMENT"
    assert (sr.CompletionFlag, sr.VerificationFlag, sr.ContentDate) == (
        "COMPLETE",
        "UNVERIFIED",
        "20240506",
    )
    assert sr.ConceptNameCodeSequence[0].CodeMeaning == "Diagnostic Imaging Report"

    pdf = leaf_for(
        make_dataset(
            **base,
            sop_class=EncapsulatedPDFStorage,
            modality="DOC",
            MIMETypeOfEncapsulatedDocument="application/pdf",
            DocumentTitle="Befund Übersicht",
            **content,
        )
    )
    assert pdf.DirectoryRecordType == "ENCAP DOC"
    assert pdf.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert pdf.DocumentTitle == "Befund Übersicht"
    assert pdf.SpecificCharacterSet == "ISO_IR 192"
    assert len(pdf.ConceptNameCodeSequence) == 0  # Type 2

    key_object = leaf_for(
        make_dataset(
            **base,
            sop_class=KeyObjectSelectionDocumentStorage,
            modality="KO",
            ConceptNameCodeSequence=concept("113000", "Of Interest"),
            **content,
        )
    )
    assert key_object.DirectoryRecordType == "KEY OBJECT DOC"

    # An SR lacking Type 1 keys of the SR DOCUMENT record falls back to IMAGE.
    bare_sr = leaf_for(make_dataset(**base, sop_class=ComprehensiveSRStorage, modality="SR"))
    assert bare_sr.DirectoryRecordType == "IMAGE"
    assert bare_sr.InstanceNumber == 7


def test_missing_attributes_are_tolerated_and_identifiers_invented() -> None:
    def bare(series_uid: str, **extra: Any) -> Dataset:
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        for keyword, value in extra.items():
            setattr(ds, keyword, value)
        return ds

    study_uid = generate_uid()
    series_uid = generate_uid()
    datasets = [
        bare(series_uid, SeriesDate="20230102"),
        bare(series_uid),
        bare(generate_uid(), PatientName=""),
    ]
    entries = [
        dicomdir_entry_from_dataset(ds, file_id_for(1, n)) for n, ds in enumerate(datasets, 1)
    ]
    assert entries[0].study_date == "20230102"  # dcmtk's alternative: the series date
    assert entries[1].series_number is None
    assert entries[1].transfer_syntax_uid == ExplicitVRLittleEndian

    records = dcmread(io.BytesIO(build_dicomdir(entries))).DirectoryRecordSequence
    assert [r.DirectoryRecordType for r in records] == [
        "PATIENT",
        "STUDY",
        "SERIES",
        "IMAGE",
        "IMAGE",
        "SERIES",
        "IMAGE",
    ]
    patient, study, series_1, image_1, image_2, series_2, image_3 = records
    assert patient.PatientID == "HDSPATIENT0001"
    assert (study.StudyID, study.StudyDate, study.StudyTime) == ("1", "20230102", "")
    assert (series_1.Modality, series_1.SeriesNumber, series_2.SeriesNumber) == ("OT", 1, 2)
    assert [image_1.InstanceNumber, image_2.InstanceNumber, image_3.InstanceNumber] == [1, 2, 1]


def test_a_dataset_read_without_file_meta_reports_its_encoding() -> None:
    ds = make_dataset(
        patient=("P1", "A^B"), study_uid=generate_uid(), series_uid=generate_uid(), number=1
    )
    del ds.file_meta
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=True, little_endian=True)  # no preamble, no File Meta
    raw = dcmread(io.BytesIO(buffer.getvalue()), force=True)
    assert dicomdir_entry_from_dataset(raw, ("I1",)).transfer_syntax_uid == ImplicitVRLittleEndian


def test_values_are_cleaned_to_their_vr() -> None:
    with config.disable_value_validation():  # real-world headers break these rules
        bad = make_dataset(
            patient=("ID\\TWO", "Name\x00^With\nControls"),
            study_uid=generate_uid(),
            series_uid=generate_uid(),
            number=1,
            StudyDescription="x" * 100,
            Modality="ct ",
            StudyDate="2024-05-06",
            StudyTime="25:61",
            PatientSex="unknown",
        )
    entry = dicomdir_entry_from_dataset(bad, file_id_for(1, 1))
    patient, study, series, _ = dcmread(io.BytesIO(build_dicomdir([entry]))).DirectoryRecordSequence
    assert patient.PatientID == "ID TWO"
    assert patient.PatientName == "Name ^With Controls"
    assert "PatientSex" not in patient
    assert study.StudyDescription == "x" * 64
    assert (study.StudyDate, study.StudyTime) == ("", "")
    assert series.Modality == "CT"


def test_invalid_input_is_refused() -> None:
    entry = dicomdir_entry_from_dataset(
        make_dataset(
            patient=("P", "N"), study_uid=generate_uid(), series_uid=generate_uid(), number=1
        ),
        file_id_for(1, 1),
    )
    with pytest.raises(ValueError, match="file_id"):
        replace(entry, file_id=("DICOM", "s0001", "I0001"))
    with pytest.raises(ValueError, match="file_id"):
        replace(entry, file_id=("DICOM", "TOOLONGNAME"))
    with pytest.raises(ValueError, match="file_id"):
        replace(entry, file_id=("A",) * 9)
    with pytest.raises(ValueError, match="sop_instance_uid"):
        replace(entry, sop_instance_uid="")
    with pytest.raises(ValueError, match="SOP Instance UID appears twice"):
        build_dicomdir([entry, replace(entry, file_id=file_id_for(1, 2))])
    with pytest.raises(ValueError, match="File ID appears twice"):
        build_dicomdir([entry, replace(entry, sop_instance_uid=generate_uid())])
    with pytest.raises(ValueError, match="fileset_id"):
        build_dicomdir([entry], fileset_id="lower case")
    missing = Dataset()
    missing.SOPClassUID = CTImageStorage
    with pytest.raises(ValueError, match="study_instance_uid"):
        dicomdir_entry_from_dataset(missing, file_id_for(1, 1))


def require_dcmtk() -> None:
    for tool in ("dcmdump", "dcmgpdir"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package: dcmtk); this check needs it")


def test_dcmtk_reads_the_dicomdir_and_finds_every_instance(tmp_path: Path) -> None:
    require_dcmtk()
    instances = sample_study()
    dicomdir = write_fileset(tmp_path, instances)

    dump = subprocess.run(
        ["dcmdump", "-q", "+L", str(dicomdir)], capture_output=True, text=True, check=False
    )
    assert dump.returncode == 0, dump.stderr
    assert dump.stderr == ""
    # dcmdump prints each item's own position; every pointer must be one of them.
    item_offsets = {int(n) for n in re.findall(r"#\s+offset=\$(\d+)", dump.stdout)}
    assert len(item_offsets) == 2 + 3 + 4 + 10
    pointers = {int(n) for n in re.findall(r"\) up (\d+)", dump.stdout)} - {0}
    assert pointers <= item_offsets
    assert MUELLER in dump.stdout  # decoded through ISO_IR 192
    referenced = re.findall(r'refFileID="([^"]+)"', dump.stdout)
    assert sorted(referenced) == sorted("\\".join(file_id) for file_id, _ in instances)
    for file_id in referenced:
        path = tmp_path.joinpath(*file_id.split("\\"))
        instance = subprocess.run(
            ["dcmdump", "-q", "+P", "0008,0018", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert instance.returncode == 0, instance.stderr

    # dcmgpdir in append mode parses the existing DICOMDIR (resolving every offset) and reports
    # each instance we offer again as already present, so it found them through our records.
    copy = tmp_path / "DICOMDIR_CHECK"
    shutil.copyfile(dicomdir, copy)
    appended = subprocess.run(
        ["dcmgpdir", "+A", "-nb", "+D", str(copy), *referenced_paths(referenced)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    output = appended.stdout + appended.stderr
    assert appended.returncode == 0, output
    assert "resolveGivenOffsets" not in output
    assert "E:" not in output
    assert output.count("directory record for this SOP instance already exists") == 10


def referenced_paths(referenced: list[str]) -> list[str]:
    return ["/".join(file_id.split("\\")) for file_id in referenced]


def test_dicomdir_instance_accepts_a_direct_construction() -> None:
    instance = DicomDirInstance(
        file_id=file_id_for(3, 4),
        patient_id="P9",
        patient_name="Ölmez^Ayşe",
        patient_birth_date="",
        patient_sex="F",
        study_instance_uid=generate_uid(),
        study_date="20240101",
        study_time="080000",
        study_description="",
        accession_number="",
        study_id="",
        referring_physician_name="",
        series_instance_uid=generate_uid(),
        modality="US",
        series_number=None,
        series_description="",
        sop_class_uid=CTImageStorage,
        sop_instance_uid=generate_uid(),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        instance_number=None,
    )
    assert instance.record_type == "IMAGE"
    records = dcmread(io.BytesIO(build_dicomdir([instance]))).DirectoryRecordSequence
    assert records[0].PatientName == "Ölmez^Ayşe"
    assert records[-1].ReferencedFileID == ["DICOM", "S0003", "I0004"]
