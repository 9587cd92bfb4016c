"""Hostile uploads (docs/security.md, "Hostile uploads"): a file that pydicom cannot parse, or
whose header the archive cannot use, is refused with a reason (422 on the upload API, a Failed SOP
Sequence entry on STOW-RS); never a 500, never a value in the log, and what is stored reads back.

The fuzz tests mutate a dozen files of pydicom's test data with a seeded generator, so a failure
names the seed and case that reproduce it (``HDS_FUZZ_SEED``, ``HDS_FUZZ_SECONDS`` run others).
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from hds.accounts.services import unlock_master_secret
from hds.archive.itemrecords import open_item_record
from hds.archive.keys import open_study
from hds.archive.models import Item, Study
from tests.archive.factories import ct_slice
from tests.conftest import Persona
from tests.dicomweb.conftest import STOW_CONTENT_TYPE, TokenPersona, multipart_body, token_for

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = "00081198"
REFERENCED = "00081199"
FAILURE_REASON = "00081197"
RETRIEVE_URL = "00081190"
WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'

# Small and varied: explicit/implicit VR, big endian, deflated, RLE, JPEG, JPEG-LS, JPEG 2000,
# no file meta, nested and private sequences, SR, RT objects, multi-frame.
CORPUS = (
    "CT_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "SC_rgb_rle.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "JPEGLSNearLossless_08.dcm",
    "JPEG2000.dcm",
    "ExplVR_LitEndNoMeta.dcm",
    "no_meta_group_length.dcm",
    "nested_priv_SQ.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",
    "reportsi.dcm",
    "rtdose_1frame.dcm",
    "image_dfl.dcm",
)
FILES_PER_REQUEST = 8
SEED = int(os.environ.get("HDS_FUZZ_SEED", "20261205"))
# Per fuzz test (upload API and STOW-RS): both together stay within a minute.
SECONDS = float(os.environ.get("HDS_FUZZ_SECONDS", "25"))
MAX_REQUESTS = int(os.environ.get("HDS_FUZZ_REQUESTS", "120"))

# Values that break VR rules in ways pydicom turns into ValueError, OverflowError, ...
BAD_VALUES: dict[str, tuple[bytes, ...]] = {
    "DS": (b"33.3333q3", b"1e999", b"nan", b"-", b"CANARYDS9q", b"1.5e-99999", b"--1"),
    "IS": (b"1e999", b"1A", b"99999999999999999999", b"-", b"0x10", b"inf"),
    "UI": (
        b"dccc9599087131742838cc1162a630fea87ba9bf61ac09bfda90d4adfa5ddaed",
        b"1..2",
        b"01.2.3",
        b"\x00\x00\x00\x00",
        b"1.2.840.10008.1.2.99",
    ),
    "PN": (b"ZZCANARY^Leak", b"a=b=c=d=e", b"\xff\xfe\xfd", b"^^^^^^^^", b"\\\\\\"),
    "US": (b"\xff\xff\xff\xff",),
    "UL": (b"\xff\xff\xff\xff",),
}


@dataclass(frozen=True)
class Field:
    """Where a value of one element lies in a corpus file (for corrupting it in place)."""

    offset: int
    length: int
    vr: str
    length_size: int  # the bytes of the element's length field right before the value
    tag: int


@dataclass
class Findings:
    """What a fuzz run saw, for the assertion message."""

    requests: int = 0
    files: int = 0
    stored: int = 0
    refused: int = 0
    server_errors: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for the assertion message."""
        return (
            f"seed {SEED}: {self.requests} requests, {self.files} files, {self.stored} stored, "
            f"{self.refused} refused; 5xx: {self.server_errors[:20]}; "
            f"not readable back: {self.unreadable[:20]}"
        )


def corpus_file(name: str) -> bytes:
    """One of pydicom's test files, by name (found locally, never downloaded)."""
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    return Path(path).read_bytes()


def value_fields(data: bytes) -> list[Field]:
    """The value fields of DS, IS, UI, PN, US and UL elements (sequences included)."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception:  # a corpus file pydicom cannot read offers no fields
        return []
    if ds.get("file_meta") is not None and str(ds.file_meta.get("TransferSyntaxUID", "")) == (
        pydicom.uid.DeflatedExplicitVRLittleEndian
    ):
        return []  # offsets are in the inflated stream
    out: list[Field] = []

    def walk(dataset: Dataset, depth: int) -> None:
        implicit = dataset.is_implicit_VR
        for tag in list(dataset.keys()):
            raw = dataset.get_item(tag)
            vr = getattr(raw, "VR", None)
            if vr is None:
                try:
                    vr = dictionary_VR(tag)
                except KeyError:
                    continue
            if vr == "SQ" and depth < 3:
                try:
                    items = dataset[tag].value
                except Exception:  # noqa: S112 - unreadable sequences are skipped
                    continue
                for item in items:
                    walk(item, depth + 1)
                continue
            tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", 0)
            value = getattr(raw, "value", None)
            if vr not in BAD_VALUES or not isinstance(tell, int) or not length:
                continue
            if not isinstance(value, bytes) or data[tell : tell + length] != value:
                continue
            long_length = implicit or vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR")
            out.append(Field(tell, length, vr, 4 if long_length else 2, int(tag)))

    walk(ds, 0)
    return out


class Mutator:
    """Seeded mutations of corpus files: byte flips, truncation, value and length fields."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.originals = {name: corpus_file(name) for name in CORPUS}
        self.fields = {name: value_fields(data) for name, data in self.originals.items()}

    def file(self) -> tuple[str, bytes]:
        """A mutated corpus file and a description of what was done to it."""
        rnd = self.random
        name = rnd.choice(CORPUS)
        data = bytearray(self.originals[name])
        done = []
        sop = [f for f in self.fields[name] if f.tag == 0x00080018 and f.length >= 12]
        if sop and rnd.random() < 0.7:  # a new instance, so that it is stored, not a duplicate
            target = sop[0]
            digits = target.length - 5
            fresh = f"2.25.{rnd.randrange(10 ** (digits - 1), 10**digits)}".encode()
            data[target.offset : target.offset + target.length] = fresh
        for _ in range(rnd.randint(1, 3)):
            kind = rnd.choice(("value", "value", "value", "length", "flip", "truncate"))
            fields = self.fields[name]
            if kind in ("value", "length") and fields:
                target = rnd.choice(fields)
                if kind == "value":
                    bad = rnd.choice(BAD_VALUES[target.vr])
                    bad = (bad + b" " * target.length)[: target.length]
                    data[target.offset : target.offset + target.length] = bad
                else:
                    start = target.offset - target.length_size
                    data[start : target.offset] = rnd.randbytes(target.length_size)
                done.append(f"{kind}@{target.offset}:{target.vr}")
            elif kind == "truncate" and len(data) > 1:
                cut = rnd.randrange(1, len(data))
                del data[cut:]
                done.append(f"cut@{cut}")
            elif data:
                for _ in range(rnd.randint(1, 16)):
                    at = rnd.randrange(len(data))
                    data[at] ^= rnd.randint(1, 255)
                done.append("flips")
        return f"{name}[{','.join(done)}]", bytes(data)


def fuzz_cases(seed: int) -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    """Requests of ``FILES_PER_REQUEST`` mutated files, until the time or count is used up."""
    mutator = Mutator(seed)
    deadline = time.monotonic() + SECONDS
    for number in range(MAX_REQUESTS):
        if time.monotonic() > deadline:
            return
        files = [mutator.file() for _ in range(FILES_PER_REQUEST)]
        yield number, [(f"r{number}f{n}-{name}", data) for n, (name, data) in enumerate(files)]


# ------------------------------------------------------------------------------ requests


def api_upload(client: Client, token: TokenPersona, files: list[tuple[str, bytes]]) -> Any:
    """POST files to the upload API with the persona's token."""
    return client.post(
        "/api/v1/uploads",
        {
            "file": [SimpleUploadedFile(f"f{n}.dcm", data) for n, (_, data) in enumerate(files)],
            "path": [name for name, _ in files],
        },
        headers=token.headers,
    )


def stow(client: Client, token: TokenPersona, files: list[bytes]) -> Any:
    """POST files to STOW-RS with the persona's token."""
    return client.post(
        "/dicomweb/studies",
        multipart_body(files),
        content_type=STOW_CONTENT_TYPE,
        headers=token.headers,
    )


def body_of(response: Any) -> bytes:
    """A response's body, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def multipart_parts(response: Any) -> list[bytes]:
    """The bodies of a multipart/related response's parts."""
    match = re.search(r'boundary="?([^";]+)"?', response["Content-Type"])
    assert match, response["Content-Type"]
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for chunk in body_of(response).split(b"\r\n" + delimiter)[:-1]:
        piece = chunk.removeprefix(delimiter)
        _headers, _, data = piece.partition(b"\r\n\r\n")
        parts.append(data)
    return parts


def reason(response: Any) -> str:
    """The exception's type name when the test client caught one (with the 500)."""
    exc_info = getattr(response, "exc_info", None)
    return exc_info[0].__name__ if exc_info else f"HTTP {response.status_code}"


@pytest.fixture
def alice_token(alice: Persona) -> TokenPersona:
    return token_for(alice)


@pytest.fixture
def lenient_client(client: Client) -> Client:
    """The test client answering a view's exception with the 500 a server would send."""
    client.raise_request_exception = False
    return client


def _wado_instance(client: Client, token: TokenPersona, meta: dict[str, Any]) -> Any:
    url = "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}".format(**meta)
    return client.get(url, headers={**token.headers, "Accept": WADO_ACCEPT})


def _stored_items(token: TokenPersona) -> dict[str, tuple[dict[str, Any], Item]]:
    """Every stored instance by the name it was uploaded with: its record and row."""
    account = token.persona.account
    ams = unlock_master_secret(account, token.persona.password)
    out = {}
    for study in Study.objects.all():
        opened = open_study(study, account, ams)
        for item in Item.objects.filter(study=study, kind=Item.Kind.INSTANCE):
            meta = open_item_record(opened, item).encode()
            out[meta["name"]] = (meta, item)
    return out


# ---------------------------------------------------------------------------------- fuzz


@pytest.mark.filterwarnings("ignore")  # pydicom warns about what it reads; the server too
def test_fuzzed_uploads_get_no_5xx_and_what_is_stored_reads_back(
    lenient_client: Client, alice_token: TokenPersona
) -> None:
    findings = Findings()
    for number, files in fuzz_cases(SEED):
        response = api_upload(lenient_client, alice_token, files)
        findings.requests += 1
        findings.files += len(files)
        if response.status_code >= 500:
            findings.server_errors.append(f"request {number}: {reason(response)}")
            continue
        assert response.status_code in (200, 422), response.content
        results = response.json()["results"]
        assert [r["name"] for r in results] == [name for name, _ in files]
        for result in results:
            assert result["status"] in ("stored", "duplicate", "error")
            assert result["message"]
            if result["status"] == "error":
                findings.refused += 1
        if response.status_code == 422:
            assert all(r["status"] == "error" for r in results)
        stored = {r["name"] for r in results if r["status"] == "stored"}
        findings.stored += len(stored)
        items = _stored_items(alice_token)
        for name, data in files:
            if name not in stored:
                continue
            meta, _item = items[name]
            got = _wado_instance(lenient_client, alice_token, meta)
            if got.status_code != 200 or data not in multipart_parts(got):
                findings.unreadable.append(f"request {number} {name}: {reason(got)}")
    print(findings.summary())  # shown with -s: what the run covered
    assert findings.requests >= 3, findings.summary()
    assert not findings.server_errors, findings.summary()
    assert not findings.unreadable, findings.summary()
    assert findings.stored, findings.summary()  # the mutations leave some files storable


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_stow_gets_no_5xx_and_what_is_stored_reads_back(
    lenient_client: Client, alice_token: TokenPersona
) -> None:
    findings = Findings()
    sent: set[bytes] = set()
    first_url: dict[str, str] = {}
    for number, files in fuzz_cases(SEED + 1):
        response = stow(lenient_client, alice_token, [data for _, data in files])
        findings.requests += 1
        findings.files += len(files)
        sent.update(data for _, data in files)
        if response.status_code >= 500:
            findings.server_errors.append(f"request {number}: {reason(response)}")
            continue
        assert response.status_code in (200, 202, 409), response.content
        body = response.json()
        failed = body.get(FAILED, {"Value": []})["Value"]
        referenced = body.get(REFERENCED, {"Value": []})["Value"]
        assert len(failed) + len(referenced) == len(files)
        findings.refused += len(failed)
        for entry in failed:
            assert entry[FAILURE_REASON]["Value"][0] in (0xC000, 0xA900, 0xC409)
        findings.stored += len(referenced)
        for entry in referenced:
            url = entry[RETRIEVE_URL]["Value"][0].removeprefix("http://testserver")
            # The archive keeps the first file of a SOP Instance UID: a later one with other
            # study or series UIDs is a duplicate whose URL names UIDs that were not stored.
            url = first_url.setdefault(entry["00081155"]["Value"][0], url)
            got = lenient_client.get(url, headers={**alice_token.headers, "Accept": WADO_ACCEPT})
            parts = multipart_parts(got) if got.status_code == 200 else []
            if len(parts) != 1 or parts[0] not in sent:
                findings.unreadable.append(f"request {number} {url}: {reason(got)}")
                continue
            metadata = lenient_client.get(f"{url}/metadata", headers=alice_token.headers)
            if metadata.status_code != 200:
                findings.unreadable.append(f"request {number} {url}/metadata: {reason(metadata)}")
    print(findings.summary())  # shown with -s: what the run covered
    assert findings.requests >= 3, findings.summary()
    assert not findings.server_errors, findings.summary()
    assert not findings.unreadable, findings.summary()
    assert findings.stored, findings.summary()


# ------------------------------------------------------------------------ specific files


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


def deeply_nested(depth: int = 3000) -> bytes:
    """A valid CT slice with a sequence nested ``depth`` deep (explicit VR little endian)."""
    data = small_slice(size=4)
    sequence = b"\x40\x00\x75\x02SQ\x00\x00\xff\xff\xff\xff"  # (0040,0275), undefined length
    item, item_end = b"\xfe\xff\x00\xe0\xff\xff\xff\xff", b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    sequence_end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    nested = sequence + item + item_end + sequence_end
    for _ in range(depth - 1):
        nested = sequence + item + nested + item_end + sequence_end
    pixel_data = b"\xe0\x7f\x10\x00OW"
    return _replace_once(data, pixel_data, nested + pixel_data)


def with_element(data: bytes, tag: bytes, vr: bytes, value: bytes) -> bytes:
    """``data`` (explicit VR little endian) with the element ``tag`` given ``vr`` and ``value``."""
    match = re.search(re.escape(tag) + rb"[A-Z]{2}(..)", data, re.DOTALL)
    assert match, tag
    length = int.from_bytes(match.group(1), "little")
    value += b" " * (len(value) % 2)
    element = tag + vr + len(value).to_bytes(2, "little") + value
    return data[: match.start()] + element + data[match.end() + length :]


def small_slice(**kwargs: Any) -> bytes:
    """A valid small CT slice of a new study."""
    return ct_slice(study_uid=pydicom.uid.generate_uid(), series_uid="1.2.3.4", index=0, **kwargs)


def is_overflow() -> bytes:
    """An InstanceNumber (IS) of ``1e999``: a float that int() cannot take."""
    return with_element(small_slice(size=4), b"\x20\x00\x13\x00", b"IS", b"1e999")


def ds_canary() -> bytes:
    """A PixelSpacing (DS, read as numbers at ingest) of ``CANARYDS9q\\1``."""
    return with_element(small_slice(size=4), b"\x28\x00\x30\x00", b"DS", b"CANARYDS9q\\1")


def pn_canary() -> bytes:
    """A PatientName ``ZZCANARY^Leak`` whose explicit VR was corrupted to FD (pydicom's error
    about its length quotes the value)."""
    return with_element(small_slice(size=4), b"\x10\x00\x10\x00", b"FD", b"ZZCANARY^Leak")


def _single_refusal(response: Any, name: str) -> str:
    assert response.status_code == 422, response.content
    body = response.json()
    assert name in body["detail"]
    (result,) = body["results"]
    assert result["name"] == name
    assert result["status"] == "error"
    message: str = result["message"]
    return message


def test_a_sequence_nested_3000_deep_is_refused_with_422(alice_token: TokenPersona) -> None:
    client = Client()
    response = api_upload(client, alice_token, [("CD/deep.dcm", deeply_nested())])
    assert "nested too deeply" in _single_refusal(response, "CD/deep.dcm")
    assert not Item.objects.exists()


def test_an_is_of_1e999_is_refused_with_422(alice_token: TokenPersona) -> None:
    client = Client()
    response = api_upload(client, alice_token, [("CD/overflow.dcm", is_overflow())])
    assert "cannot be read" in _single_refusal(response, "CD/overflow.dcm")
    assert not Item.objects.exists()


def test_refusals_keep_the_other_files_of_the_request(alice_token: TokenPersona) -> None:
    good = small_slice()
    files = [("deep.dcm", deeply_nested()), ("good.dcm", good), ("inf.dcm", is_overflow())]
    response = api_upload(Client(), alice_token, files)
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["error", "stored", "error"]
    assert Item.objects.count() == 1


def test_bad_sequence_dcm_with_hex_uids_is_refused_by_stow_and_upload(
    alice_token: TokenPersona,
) -> None:
    data = corpus_file("bad_sequence.dcm")
    client = Client()
    response = stow(client, alice_token, [data])
    assert response.status_code == 409, response.content
    (entry,) = response.json()[FAILED]["Value"]
    assert entry[FAILURE_REASON]["Value"] == [0xC000]
    refused = api_upload(client, alice_token, [("bad_sequence.dcm", data)])
    assert "SOPInstanceUID" in _single_refusal(refused, "bad_sequence.dcm")
    assert not Item.objects.exists()


def test_deep_nesting_and_overflow_are_refused_by_stow(alice_token: TokenPersona) -> None:
    good = small_slice()
    response = stow(Client(), alice_token, [deeply_nested(), good, is_overflow()])
    assert response.status_code == 202, response.content
    body = response.json()
    assert [e[FAILURE_REASON]["Value"][0] for e in body[FAILED]["Value"]] == [0xC000, 0xC000]
    assert len(body[REFERENCED]["Value"]) == 1
    assert Item.objects.count() == 1


# -------------------------------------------------------------------------------- logs


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """What the server's console handler would write (its filters and format), meanwhile."""
    console = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


@pytest.mark.filterwarnings("ignore")
def test_values_of_refused_files_never_reach_the_log(
    lenient_client: Client, alice_token: TokenPersona, server_log: io.StringIO
) -> None:
    files = [("ds.dcm", ds_canary()), ("pn.dcm", pn_canary())]
    for name, data in files:
        response = api_upload(lenient_client, alice_token, [(name, data)])
        assert response.status_code == 422, (name, reason(response))
        stowed = stow(lenient_client, alice_token, [data])
        assert stowed.status_code == 409, (name, reason(stowed))
    assert not Item.objects.exists()
    assert "CANARY" not in server_log.getvalue()


def test_an_unexpected_exception_is_logged_without_its_message(
    lenient_client: Client,
    alice_token: TokenPersona,
    server_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: Any) -> None:
        raise ValueError("could not convert string to float: 'ZZCANARY^Leak'")

    monkeypatch.setattr("hds.archive.api.ingest_files", explode)
    good = small_slice()
    response = api_upload(lenient_client, alice_token, [("good.dcm", good)])
    assert response.status_code == 500
    log = server_log.getvalue()
    assert "CANARY" not in log
    assert "ValueError" in log  # the type and where it was raised stay
    assert "explode" in log


def test_a_uid_element_with_a_corrupted_vr_is_refused_by_stow(alice_token: TokenPersona) -> None:
    data = with_element(small_slice(size=4), b"\x08\x00\x18\x00", b"FD", b"1.2.3.4.5.6.7")
    response = stow(Client(), alice_token, [data])
    assert response.status_code == 409, response.content
    assert response.json()[FAILED]["Value"][0][FAILURE_REASON]["Value"] == [0xC000]


def test_the_deepest_nesting_stow_stores_is_served(alice_token: TokenPersona) -> None:
    """Just below the depth pydicom can read in a request: stored, and served back."""
    client = Client(raise_request_exception=False)
    for depth in range(200, 0, -10):
        response = stow(client, alice_token, [deeply_nested(depth)])
        assert response.status_code in (200, 409), response.content
        if response.status_code == 200:
            break
    assert depth > 50
    url = response.json()[REFERENCED]["Value"][0][RETRIEVE_URL]["Value"][0]
    url = url.removeprefix("http://testserver")
    got = client.get(url, headers={**alice_token.headers, "Accept": WADO_ACCEPT})
    assert got.status_code == 200
    assert client.get(f"{url}/metadata", headers=alice_token.headers).status_code == 200


def test_a_hostile_dicomdir_gets_a_400_not_a_500(alice_token: TokenPersona) -> None:
    client = Client(raise_request_exception=False)
    for data in (deeply_nested(), is_overflow()[:300], corpus_file("bad_sequence.dcm")):
        response = client.post(
            "/api/v1/uploads/plan",
            {"dicomdir": SimpleUploadedFile("DICOMDIR", data)},
            headers=alice_token.headers,
        )
        assert response.status_code == 400, response.content
        assert response.json()["detail"] == "This DICOMDIR cannot be read."
