"""Second factors: TOTP with replay refusal, single-use recovery codes, WebAuthn passkeys.

Every change is recorded as an ``AuthEvent`` and mailed to the holder (docs/security.md,
Multi-factor authentication).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import smtplib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from hds.accounts.models import Account, AuthEvent
from hds.crypto.codes import format_code, generate_code, normalize_code
from hds.crypto.errors import InvalidCiphertext, InvalidCode
from hds.crypto.kdf import random_bytes
from hds.mfa import sealing
from hds.mfa.models import Passkey, RecoveryCode, TotpDevice
from hds.notifications.mail import send_templated_mail

logger = logging.getLogger(__name__)

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_SECRET_BYTES = 20  # RFC 4226 §4: 160 bits
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 12  # 60 bits; keyed hashes, single use, online attempts throttled
ISSUER = "HDS"

# AuthEvent kinds of second-factor events (labels in hds.mfa.events).
TOTP_ENABLED = "mfa.totp_enabled"
TOTP_REMOVED = "mfa.totp_removed"
PASSKEY_ADDED = "mfa.passkey_added"
PASSKEY_REMOVED = "mfa.passkey_removed"
RECOVERY_CODES_NEW = "mfa.recovery_codes_new"
RECOVERY_CODE_USED = "mfa.recovery_code_used"
SECOND_FACTOR_OK = "mfa.verified"
SECOND_FACTOR_FAILED = "mfa.failed"


class PasskeyError(Exception):
    """A WebAuthn response was malformed or did not verify."""


def _event(account: Account, kind: str, ip_hash: str = "") -> None:
    AuthEvent.objects.create(account=account, kind=kind, ip_hash=ip_hash)


def _mail_change(account: Account, change: str) -> None:
    email, language = account.email, account.language

    def _send() -> None:
        try:
            send_templated_mail(
                "mfa_changed", to=email, language=language, context={"change": change}
            )
        except (OSError, smtplib.SMTPException) as exc:
            logger.error("mail mfa_changed could not be sent: %s", type(exc).__name__)

    transaction.on_commit(_send)


def mail_failed_second_factor(account: Account) -> None:
    """Tell the holder that someone knew the password but failed the second factor."""
    _mail_change(account, "failed")


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What an account has enrolled."""

    totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def enrolled(self) -> bool:
        """Whether a second factor (not counting recovery codes) exists."""
        return self.totp or self.passkeys > 0


def status(account: Account) -> Status:
    """Return the account's second factors."""
    return Status(
        totp=TotpDevice.objects.filter(account=account).exists(),
        passkeys=Passkey.objects.filter(account=account).count(),
        recovery_codes_left=RecoveryCode.objects.filter(
            account=account, used_at__isnull=True
        ).count(),
    )


def is_enrolled(account: Account) -> bool:
    """Whether logins of this account need a second factor."""
    return (
        TotpDevice.objects.filter(account=account).exists()
        or Passkey.objects.filter(account=account).exists()
    )


# --- TOTP ---------------------------------------------------------------------------------


def new_totp_secret() -> bytes:
    """A fresh TOTP secret (kept in the session keyring until the first code confirms it)."""
    return random_bytes(TOTP_SECRET_BYTES)


def totp_key_text(secret: bytes) -> str:
    """The secret as authenticator apps take it (base32, no padding)."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def _totp(secret: bytes) -> pyotp.TOTP:
    return pyotp.TOTP(totp_key_text(secret), digits=TOTP_DIGITS, interval=TOTP_PERIOD)


def totp_uri(account: Account, secret: bytes) -> str:
    """The otpauth:// URI for the QR code."""
    return _totp(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def qr_data_uri(text: str) -> str:
    """An SVG QR code of ``text`` as a data: URI (the CSP allows data: images)."""
    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=2))


def current_step(now: float | None = None) -> int:
    """The TOTP time step of ``now``."""
    return int((time.time() if now is None else now) // TOTP_PERIOD)


def totp_code(secret: bytes, step: int) -> str:
    """The code of one time step (tests and the enrolment check)."""
    return str(_totp(secret).generate_otp(step))


def _digits(text: str) -> str | None:
    plain = "".join(text.split())
    return plain if len(plain) == TOTP_DIGITS and plain.isascii() and plain.isdigit() else None


def _matching_step(secret: bytes, code: str) -> int | None:
    """The step (now, or one either side for clock drift) whose code is ``code``."""
    now = current_step()
    found = None
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp_code(secret, step), code):
            found = step
    return found


def enable_totp(account: Account, secret: bytes, code_text: str) -> list[str] | None:
    """Confirm an authenticator app with its first code; return new recovery codes if none exist.

    Returns ``None`` as the recovery codes when the account already has unused ones; raises
    ``InvalidCode`` when the code does not match.
    """
    code = _digits(code_text)
    step = _matching_step(secret, code) if code else None
    if step is None:
        raise InvalidCode
    sealed, version = sealing.seal_totp_secret(account.pk, secret)
    with transaction.atomic():
        TotpDevice.objects.update_or_create(
            account=account,
            defaults={"sealed_secret": sealed, "key_version": version, "last_step": step},
        )
        _event(account, TOTP_ENABLED)
        _mail_change(account, "totp_enabled")
        return _recovery_codes_if_missing(account)


def verify_totp(account: Account, code_text: str) -> bool:
    """Check a TOTP code; each time step's code is accepted once (replays are refused)."""
    code = _digits(code_text)
    device = TotpDevice.objects.filter(account=account).first()
    if code is None or device is None:
        return False
    try:
        secret = sealing.open_totp_secret(
            account.pk, bytes(device.sealed_secret), device.key_version
        )
    except (InvalidCiphertext, LookupError):
        logger.error("TOTP secret of an account does not open")
        return False
    step = _matching_step(secret, code)
    if step is None:
        return False
    # Compare-and-set: two requests with the same code cannot both win.
    return (
        TotpDevice.objects.filter(account=account, last_step__lt=step).update(last_step=step) == 1
    )


@transaction.atomic
def remove_totp(account: Account) -> bool:
    """Remove the authenticator app; return whether there was one."""
    deleted, _ = TotpDevice.objects.filter(account=account).delete()
    if deleted:
        _after_removal(account, TOTP_REMOVED, "totp_removed")
    return bool(deleted)


def _after_removal(account: Account, kind: str, change: str) -> None:
    _event(account, kind)
    _mail_change(account, change)
    if not is_enrolled(account):
        RecoveryCode.objects.filter(account=account).delete()


# --- recovery codes -------------------------------------------------------------------------


def _recovery_codes_if_missing(account: Account) -> list[str] | None:
    if RecoveryCode.objects.filter(account=account, used_at__isnull=True).exists():
        return None
    return _make_recovery_codes(account)


def _make_recovery_codes(account: Account) -> list[str]:
    version = sealing.current_version()
    codes = [generate_code(RECOVERY_CODE_LENGTH) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(account=account).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(
            account=account,
            code_hash=sealing.recovery_code_hash(account.pk, code, version),
            key_version=version,
        )
        for code in codes
    )
    return [format_code(code) for code in codes]


@transaction.atomic
def regenerate_recovery_codes(account: Account) -> list[str]:
    """Replace all recovery codes (the old ones stop working); return the new ones to show once."""
    codes = _make_recovery_codes(account)
    _event(account, RECOVERY_CODES_NEW)
    _mail_change(account, "recovery_codes_new")
    return codes


def use_recovery_code(account: Account, code_text: str) -> bool:
    """Check a recovery code and use it up."""
    try:
        code = normalize_code(code_text, RECOVERY_CODE_LENGTH)
    except InvalidCode:
        return False
    versions = set(
        RecoveryCode.objects.filter(account=account, used_at__isnull=True).values_list(
            "key_version", flat=True
        )
    )
    for version in versions:
        try:
            digest = sealing.recovery_code_hash(account.pk, code, version)
        except LookupError:
            continue
        used = RecoveryCode.objects.filter(
            account=account, code_hash=digest, used_at__isnull=True
        ).update(used_at=timezone.now())
        if used:
            _event(account, RECOVERY_CODE_USED)
            _mail_change(account, "recovery_code_used")
            return True
    return False


def check_code(account: Account, code_text: str) -> bool:
    """Check a typed second factor: a TOTP code (6 digits) or a recovery code."""
    if _digits(code_text) is not None:
        return verify_totp(account, code_text)
    return use_recovery_code(account, code_text)


# --- passkeys -------------------------------------------------------------------------------


def rp_id() -> str:
    """The WebAuthn relying-party id: the host of ``HDS_BASE_URL``."""
    host = urlsplit(settings.BASE_URL).hostname
    assert host
    return host


def expected_origin() -> str:
    """The origin WebAuthn responses must come from."""
    parts = urlsplit(settings.BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def registration_options(account: Account) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.create`` (JSON) and their challenge."""
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=ISSUER,
        user_name=account.email,
        user_id=account.pk.bytes,
        user_display_name=account.display_name,
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(cid))
            for cid in Passkey.objects.filter(account=account).values_list(
                "credential_id", flat=True
            )
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), options.challenge


def register_passkey(
    account: Account, *, name: str, response_json: str, challenge: bytes
) -> tuple[Passkey, list[str] | None]:
    """Verify a registration response and keep the credential; new recovery codes if none exist."""
    try:
        verified = verify_registration_response(
            credential=response_json,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError(str(exc)) from None
    with transaction.atomic():
        if Passkey.objects.filter(credential_id=verified.credential_id).exists():
            raise PasskeyError("credential already registered")
        passkey = Passkey.objects.create(
            account=account,
            name=name,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
        )
        _event(account, PASSKEY_ADDED)
        _mail_change(account, "passkey_added")
        return passkey, _recovery_codes_if_missing(account)


def authentication_options(account: Account) -> tuple[str, bytes] | None:
    """Options for ``navigator.credentials.get`` and their challenge, or None without passkeys."""
    ids = list(Passkey.objects.filter(account=account).values_list("credential_id", flat=True))
    if not ids:
        return None
    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=[PublicKeyCredentialDescriptor(id=bytes(cid)) for cid in ids],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def verify_passkey(account: Account, response_json: str, challenge: bytes) -> bool:
    """Check an assertion by one of the account's passkeys."""
    try:
        raw_id = base64url_to_bytes(str(json.loads(response_json)["rawId"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return False
    passkey = Passkey.objects.filter(account=account, credential_id=raw_id).first()
    if passkey is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=response_json,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "last_used_at"])
    return True


@transaction.atomic
def remove_passkey(account: Account, passkey_id: UUID) -> bool:
    """Remove one of the account's passkeys; False when it is not this account's."""
    deleted, _ = Passkey.objects.filter(account=account, pk=passkey_id).delete()
    if deleted:
        _after_removal(account, PASSKEY_REMOVED, "passkey_removed")
    return bool(deleted)
