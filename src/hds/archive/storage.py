"""Encrypted blobs: written through the segmented AEAD into the blob store, read at random."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.db import transaction

from hds.archive.keys import OpenStudy
from hds.archive.models import Blob
from hds.core.blobstore import BlobStore, blob_store_from_url
from hds.crypto.blob import BlobKind, BlobReader, encrypt_stream

logger = logging.getLogger(__name__)


@cache
def get_store() -> BlobStore:
    """The configured blob store (``BLOB_STORE_URL``)."""
    return blob_store_from_url(settings.BLOB_STORE_URL, base_dir=settings.DATA_DIR)


def write_blob(opened: OpenStudy, kind: BlobKind, chunks: Iterable[bytes]) -> Blob:
    """Encrypt ``chunks`` into a new object; return its (unsaved) row.

    The object is written before the row exists, so a crash in between leaves only an orphan
    object (ciphertext) that the blob collector removes, never a row without its object.
    """
    blob_id = uuid.uuid4()
    stream = encrypt_stream(
        opened.dek, study_id=opened.study_id, blob_id=blob_id.bytes, kind=kind, chunks=chunks
    )
    size = get_store().put(str(blob_id), stream)
    return Blob(id=blob_id, study=opened.study, kind=int(kind), size=size)


def reader(opened: OpenStudy, blob: Blob) -> BlobReader:
    """Random-access plaintext reader of one blob (authenticates header and last segment)."""
    store = get_store()
    key = str(blob.id)
    return BlobReader(
        opened.dek,
        study_id=opened.study_id,
        blob_id=blob.id.bytes,
        kind=BlobKind(blob.kind),
        size=blob.size,
        read=lambda offset, length: store.read(key, offset, length),
    )


def delete_objects_after_commit(blob_ids: list[str]) -> None:
    """Remove blob objects once the rows that named them are gone for good."""

    def _delete() -> None:
        store = get_store()
        for key in blob_ids:
            try:
                store.delete(key)
            except Exception:  # the collector retries; a failed delete leaks only ciphertext
                logger.exception("blob delete failed")

    transaction.on_commit(_delete)
