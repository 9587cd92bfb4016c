"""Study keys: sealing a study's DEK to an account and opening it again (docs/security.md, Study
keys and grants).

There is no service key: a study opens only with a grant addressed to a key in the session's
keyring, so an authorisation bug leaks ids and sizes at most, never content.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.utils import timezone

from hds.accounts.models import Account
from hds.archive.errors import StudyLocked
from hds.archive.models import Grant, Study
from hds.crypto.accountkeys import derive_account_keys
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.grants import check_commitment, open_grant, seal_grant
from hds.crypto.records import study_index_key, study_meta_key
from hds.keys.directory import verify_keys


@dataclass(frozen=True)
class OpenStudy:
    """A study whose DEK this request holds."""

    study: Study
    dek: bytes

    @property
    def study_id(self) -> bytes:
        """The study id as the 16 bytes the crypto formats bind to."""
        return self.study.id.bytes

    @cached_property
    def meta_key(self) -> bytes:
        """Key of the study's item records."""
        return study_meta_key(self.dek, self.study_id)

    @cached_property
    def index_key(self) -> bytes:
        """Key of the study's dedupe index."""
        return study_index_key(self.dek, self.study_id)


def _principal(account: Account) -> bytes:
    return str(account.pk).encode("ascii")


def account_keys_are_authentic(account: Account) -> bool:
    """Whether the account's public keys carry the key directory's signature (§3.10)."""
    return verify_keys(
        "account",
        account,
        int(account.keys_created_at.timestamp()),
        bytes(account.directory_signature),
    )


def grant_study(study: Study, dek: bytes, account: Account) -> Grant:
    """Seal the study's DEK to the account's public key (after checking the key is authentic)."""
    if not account_keys_are_authentic(account):
        raise StudyLocked("The recipient's keys are not signed by the key directory.")
    sealed = seal_grant(
        dek,
        bytes(account.x25519_public),
        study_id=study.id.bytes,
        kind="account",
        principal_id=_principal(account),
        key_version=account.key_version,
    )
    grant, _ = Grant.objects.update_or_create(
        study=study,
        account=account,
        defaults={
            "sealed": sealed,
            "key_version": account.key_version,
            "created_at": timezone.now(),
        },
    )
    return grant


def open_study(study: Study, account: Account, ams: bytes) -> OpenStudy:
    """Open the study's DEK with the account's grant; ``StudyLocked`` when that is impossible."""
    grant = Grant.objects.filter(study=study, account=account).first()
    if grant is None:
        raise StudyLocked("No key of yours opens this study.")
    try:
        dek = open_grant(
            bytes(grant.sealed),
            derive_account_keys(ams).x25519_private,
            study_id=study.id.bytes,
            kind="account",
            principal_id=_principal(account),
            key_version=grant.key_version,
        )
        check_commitment(dek, study.id.bytes, bytes(study.kcv))
    except InvalidCiphertext:
        raise StudyLocked("No key of yours opens this study.") from None
    return OpenStudy(study=study, dek=dek)
