"""Keys and sealing for encrypted database records: blind indexes and per-account catalogues.

The archive keeps what a list or a viewer needs (patient, study and series descriptions) in small
AES-GCM records instead of columns. Lookups by DICOM UID go through blind indexes: a keyed HMAC of
the UID, so equal UIDs match without the UID being stored (docs/security.md, What the operator sees
and cannot see). Labels:

- ``hds/v1/account/index``: the account's index key (StudyInstanceUID → its holding);
- ``hds/v1/account/catalog``: the account's catalogue key (summaries of the studies it holds);
- ``hds/v1/study/index|<study>``: the study's index key (SOPInstanceUID → its instance, dedupe);
- ``hds/v1/study/meta|<study>``: the study's metadata key (one record per instance or finding).
"""

import hashlib
import hmac

from hds.crypto.kdf import hkdf
from hds.crypto.wrap import unwrap_secret, wrap_secret

INDEX_SIZE = 16  # bytes of HMAC-SHA256 kept; 128 bits cannot collide by accident


def account_index_key(ams: bytes) -> bytes:
    """The account's blind-index key, derived from its master secret."""
    return hkdf(ams, salt=None, info=b"hds/v1/account/index")


def account_catalog_key(ams: bytes) -> bytes:
    """The key of the account's study summaries."""
    return hkdf(ams, salt=None, info=b"hds/v1/account/catalog")


def study_index_key(dek: bytes, study_id: bytes) -> bytes:
    """The study's blind-index key (instance dedupe), derived from its DEK."""
    return hkdf(dek, salt=None, info=b"hds/v1/study/index|" + study_id)


def study_meta_key(dek: bytes, study_id: bytes) -> bytes:
    """The key of the study's instance and finding records, derived from its DEK."""
    return hkdf(dek, salt=None, info=b"hds/v1/study/meta|" + study_id)


def blind_index(key: bytes, value: str) -> str:
    """Hex HMAC-SHA256 of ``value`` under ``key``, truncated to 128 bits."""
    if len(key) != 32:
        raise ValueError("index key must be 32 bytes")
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
    return digest[:INDEX_SIZE].hex()


def seal_record(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM-seal one record, bound to ``aad`` (its table and row id)."""
    return wrap_secret(key, plaintext, aad)


def open_record(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Open a record sealed with ``seal_record`` (``InvalidCiphertext`` on any mismatch)."""
    return unwrap_secret(key, sealed, aad)
