"""Second factors of an account: TOTP, recovery codes, passkeys (docs/security.md, Multi-factor
authentication).

Nothing here is a usable secret on its own: the TOTP secret is sealed under a key derived from the
server pepper, recovery codes are kept as keyed hashes, passkeys are public keys.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from typing_extensions import override

from hds.accounts.models import Account


class TotpDevice(models.Model):
    """An account's confirmed authenticator app (at most one)."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="totp_device"
    )
    sealed_secret = models.BinaryField(max_length=128)
    key_version = models.PositiveSmallIntegerField()
    # The last accepted time step: a code of this step or an earlier one is a replay.
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    @override
    def __str__(self) -> str:
        return f"TOTP of {self.account_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code, kept only as HMAC-SHA256 under a server key."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.BinaryField(max_length=32)
    key_version = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    @override
    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class Passkey(models.Model):
    """A WebAuthn credential registered by the account holder."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100)
    credential_id = models.BinaryField(max_length=1024, unique=True)
    public_key = models.BinaryField(max_length=1024)
    sign_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @override
    def __str__(self) -> str:
        return self.name
