"""Real-world files: every file of pydicom's test data and of the pydicom-data package that pydicom
can read is either stored (and comes back byte-identical) or refused with a clear reason."""

from __future__ import annotations

import os
from pathlib import Path

import data_store
import pydicom
import pytest
from django.test import RequestFactory

from hds.accounts import services as account_services
from hds.archive.keys import open_study
from hds.archive.models import Item, Study
from hds.archive.services import ingest_file
from hds.archive.storage import reader
from tests.conftest import make_persona

# Listed from the folders directly: pydicom's get_testdata_files() may try to download.
CORPUS_DIRS = [
    Path(pydicom.__file__).parent / "data" / "test_files",
    Path(data_store.__file__).parent / "data",
]
FILES = sorted(
    p
    for d in CORPUS_DIRS
    for p in d.rglob("*")
    if p.is_file() and not p.name.endswith((".py", ".txt", ".json", ".gz", ".bz2", ".zip", ".xz"))
)


def test_corpus_is_there() -> None:
    assert len(FILES) > 150


# pydicom warns (UserWarning) about real-world quirks while it reads; the ingest service reads
# pydicom's log to decide what to refuse, so the warnings themselves are expected here.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_file_is_stored_or_refused_with_reason(path: Path) -> None:
    data = path.read_bytes()
    persona = make_persona(f"corpus-{abs(hash(path.name))}@example.org")
    _account, ams = account_services.log_in(
        email=persona.email,
        password=persona.password,
        ip_hash="t",
        request=RequestFactory().post("/login/"),
    )
    result = ingest_file(persona.account, ams, name=path.name, data=data)
    assert result.status in ("stored", "error"), result
    assert result.message
    if result.status == "error":
        assert "Traceback" not in result.message
        assert not Item.objects.exists()
        return
    assert result.study_id is not None
    study = Study.objects.get(pk=result.study_id)
    opened = open_study(study, persona.account, ams)
    item = Item.objects.get(study=study)
    assert reader(opened, item.blob).read_range(0, item.size) == data
    if os.environ.get("HDS_CORPUS_VERBOSE"):
        print(path.name, result.message)
