"""The batch ingest behind STOW-RS: per-file results, one commit per study, nothing half-stored."""

from __future__ import annotations

from typing import Any

import pytest

from hds.accounts.models import Account
from hds.accounts.services import unlock_master_secret
from hds.archive import services
from hds.archive.models import Blob, Holding, Item
from hds.archive.reads import read_summary
from hds.archive.services import ingest_files
from hds.core.blobstore import BlobStoreError
from tests.archive.conftest import blob_files
from tests.archive.factories import ct_series
from tests.conftest import Persona

pytestmark = pytest.mark.django_db(transaction=True)


def _ams(persona: Persona) -> bytes:
    return unlock_master_secret(persona.account, persona.password)


def test_mixed_batch_gives_one_result_per_file_in_order(alice: Persona) -> None:
    first, second, third = ct_series(3)
    other_study = ct_series(2, description="MR Knee")
    files = [
        ("a.dcm", first),
        ("junk.txt", b"not a DICOM file at all" * 10),
        ("b.dcm", second),
        ("a-again.dcm", first),  # the same instance twice in one batch
        ("c.dcm", third),
        ("truncated.dcm", second[: len(second) // 3]),
        ("other-1.dcm", other_study[0]),
        ("other-2.dcm", other_study[1]),
    ]

    results = ingest_files(alice.account, _ams(alice), files)

    assert [(r.name, r.status) for r in results] == [
        ("a.dcm", "stored"),
        ("junk.txt", "error"),
        ("b.dcm", "stored"),
        ("a-again.dcm", "duplicate"),
        ("c.dcm", "stored"),
        ("truncated.dcm", "error"),
        ("other-1.dcm", "stored"),
        ("other-2.dcm", "stored"),
    ]
    assert Item.objects.count() == 5
    assert Blob.objects.count() == 10  # each instance and its rendering
    assert len(blob_files()) == 10  # no object without its row
    holdings = Holding.objects.filter(account=alice.account)
    summaries = sorted(read_summary(h, _ams(alice))["instances"] for h in holdings)
    assert summaries == [2, 3]
    assert sum(h.bytes for h in holdings) == sum(len(f) for f in (first, second, third)) + sum(
        len(f) for f in other_study
    )


def test_again_later_every_file_is_a_duplicate(alice: Persona) -> None:
    files = [(f"{n}.dcm", data) for n, data in enumerate(ct_series(4))]
    ingest_files(alice.account, _ams(alice), files)

    again = ingest_files(alice.account, _ams(alice), files)

    assert {r.status for r in again} == {"duplicate"}
    assert Item.objects.count() == 4
    assert len(blob_files()) == 8


def test_quota_stops_the_batch_at_the_file_that_does_not_fit(alice: Persona) -> None:
    files = ct_series(4)
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=len(files[0]) * 2 + 100)
    alice.account.refresh_from_db()

    results = ingest_files(alice.account, _ams(alice), [("f.dcm", f) for f in files])

    assert [r.status for r in results] == ["stored", "stored", "error", "error"]
    assert results[2].missing_bytes > 0
    assert "more space is needed" in results[2].message
    assert Item.objects.count() == 2
    assert len(blob_files()) == 4


def test_a_failing_blob_store_leaves_no_rows_and_no_objects(
    alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails on the third write (e.g. disk full): the error reaches the caller and
    nothing of the batch remains."""
    real = services.write_blob  # type: ignore[attr-defined]
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise BlobStoreError("Could not write blob: No space left on device.")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "write_blob", failing)
    with pytest.raises(BlobStoreError):
        ingest_files(alice.account, _ams(alice), [("f.dcm", f) for f in ct_series(4)])

    assert not Item.objects.exists()
    assert not Blob.objects.exists()
    assert blob_files() == []
