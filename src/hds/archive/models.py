"""Studies, their encrypted items and blobs, and who holds and can open them (docs/design.md, How
data moves).

Nothing here names or describes a patient or an exam: that lives in sealed records (``meta_ct``,
``summary_ct``) and encrypted blobs. The server sees ids, sizes and who holds what.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from typing_extensions import override


class Study(models.Model):
    """One study (or one standalone document) and its key commitment."""

    class Kind(models.TextChoices):
        IMAGING = "imaging"
        DOCUMENT = "document"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMAGING)
    kcv = models.BinaryField(max_length=16)
    size_bytes = models.BigIntegerField(default=0)  # plaintext bytes of all items
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["imaging", "document"]), name="study_kind_valid"
            )
        ]

    @override
    def __str__(self) -> str:
        return str(self.id)


class Grant(models.Model):
    """The study's DEK sealed (HPKE) to one account's public key (docs/security.md, Study keys and
    grants)."""

    id = models.BigAutoField(primary_key=True)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="grants")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants"
    )
    key_version = models.PositiveIntegerField()
    sealed = models.BinaryField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "account"], name="grant_one_per_account")
        ]

    @override
    def __str__(self) -> str:
        return f"grant {self.pk}"


class Holding(models.Model):
    """An account keeps a study in its documents; its quota is charged for it."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holdings"
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="holdings")
    # Blind index of the StudyInstanceUID under the account's index key ("" for documents).
    study_index = models.CharField(max_length=32, blank=True)
    # The study's summary for lists and search, sealed under the account's catalogue key.
    summary_ct = models.BinaryField()
    bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "study"], name="holding_once"),
            models.UniqueConstraint(
                fields=["account", "study_index"],
                condition=~models.Q(study_index=""),
                name="holding_study_uid_once",
            ),
        ]
        indexes = [models.Index(fields=["account", "-updated_at"])]

    @override
    def __str__(self) -> str:
        return f"holding {self.pk}"


class Blob(models.Model):
    """One encrypted object in the blob store (its key is this id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="blobs")
    kind = models.PositiveSmallIntegerField()  # hds.crypto.blob.BlobKind
    size = models.BigIntegerField()  # ciphertext bytes
    created_at = models.DateTimeField(default=timezone.now)

    @override
    def __str__(self) -> str:
        return str(self.id)


class Item(models.Model):
    """A DICOM instance or a PDF finding of a study; its description is a sealed record."""

    class Kind(models.TextChoices):
        INSTANCE = "instance"
        FINDING = "finding"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Blind index of the SOPInstanceUID (or the PDF's SHA-256) under the study's index key.
    dedupe_index = models.CharField(max_length=32)
    blob = models.ForeignKey(Blob, on_delete=models.RESTRICT, related_name="+")
    rendering = models.ForeignKey(
        Blob, on_delete=models.RESTRICT, related_name="+", null=True, blank=True
    )
    meta_ct = models.BinaryField()
    # An instance's DICOM JSON metadata (PS3.18 F.2, bulk data URIs relative to the instance),
    # sealed like meta_ct: written by the DICOMweb metadata view the first time it parses the
    # instance's header, so a viewer's later metadata requests need no header parsing.
    dicom_json_ct = models.BinaryField(null=True, editable=False)
    size = models.BigIntegerField()  # plaintext bytes of the original file
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "dedupe_index"], name="item_once"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["instance", "finding"]), name="item_kind_valid"
            ),
        ]

    @override
    def __str__(self) -> str:
        return str(self.id)
