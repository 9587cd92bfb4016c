"""Accounts and their wrapped keys (docs/security.md, Keys and wraps).

Stored per account: the public keys, their directory signature, and the account master secret
(AMS) wrapped twice: under a key from the password (Argon2id + server pepper) and under a key from
the activation code (Argon2id, no pepper). Neither the password, the code, the AMS nor a private
key is stored.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from typing_extensions import override


class AccountManager(BaseUserManager["Account"]):
    """Accounts are created by ``hds.accounts.services``; this only normalises e-mails."""

    def get_by_email(self, email: str) -> Account:
        """Return the account with this e-mail (case-insensitive)."""
        return self.get(email=normalize_email(email))


def normalize_email(email: str) -> str:
    """Lower-case and strip an e-mail address (we treat addresses case-insensitively)."""
    return email.strip().lower()


class Role(models.TextChoices):
    PATIENT = "patient", _("Patient")
    PROFESSIONAL = "professional", _("Healthcare professional")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    DIVERSE = "diverse", _("Diverse")
    UNKNOWN = "unknown", _("Not specified")


class PracticeKind(models.TextChoices):
    RADIOLOGY = "radiology", _("Radiology")
    PRACTICE = "practice", _("Doctor's practice")
    HOSPITAL = "hospital", _("Hospital department")
    OTHER = "other", _("Other")


class Account(AbstractBaseUser):
    """A person's account: patient or healthcare professional."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("e-mail address"), max_length=254, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)  # Django's flag; activation is activated_at

    # Patients: needed to match studies to the right account at the radiology (FAQ).
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)

    # Professionals: who and where they are.
    title = models.CharField(_("title"), max_length=50, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    practice_kind = models.CharField(max_length=20, choices=PracticeKind.choices, blank=True)
    practice_name = models.CharField(_("practice or department"), max_length=200, blank=True)
    specialty = models.CharField(_("specialty"), max_length=100, blank=True)
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, default="DE")
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    quota_bytes = models.BigIntegerField(default=1024**3)

    # Public keys (raw 32 bytes) and the key directory's signature over them (docs/security.md, Key
    # directory).
    key_version = models.PositiveIntegerField(default=1)
    x25519_public = models.BinaryField(max_length=32)
    ed25519_public = models.BinaryField(max_length=32)
    directory_signature = models.BinaryField(max_length=64)
    keys_created_at = models.DateTimeField(default=timezone.now)

    # Password wrap: empty until a password exists (radiology-created patients set it later).
    pw_salt = models.BinaryField(max_length=16, blank=True, default=b"")
    pw_params = models.JSONField(default=dict, blank=True)
    pepper_version = models.PositiveSmallIntegerField(default=1)
    pw_verifier = models.BinaryField(max_length=32, blank=True, default=b"")
    wrap_pw = models.BinaryField(max_length=64, blank=True, default=b"")
    password_changed_at = models.DateTimeField(null=True, blank=True)

    # Activation-code wrap: the recovery path (no pepper, so losing server secrets loses nothing).
    ac_salt = models.BinaryField(max_length=16)
    ac_params = models.JSONField(default=dict)
    wrap_ac = models.BinaryField(max_length=64)
    ac_created_at = models.DateTimeField(default=timezone.now)

    # Lockout after 100 consecutive failed logins: lifted only through the e-mailed unlock link.
    locked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[AccountManager] = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["patient", "professional"]), name="account_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")),
                name="account_email_lower",
            ),
        ]

    @override
    def __str__(self) -> str:
        return self.email

    @property
    def is_activated(self) -> bool:
        """Whether the account was activated with its activation code."""
        return self.activated_at is not None

    @property
    def has_password(self) -> bool:
        """Whether a password wrap exists."""
        return bool(self.wrap_pw)

    @property
    def display_name(self) -> str:
        """A name for greetings: the professional's name, else the e-mail."""
        name = " ".join(p for p in (self.title, self.first_name, self.last_name) if p)
        return name or self.email

    @override
    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        if not self.password:
            self.set_unusable_password()  # Django's hasher is never used for accounts
        super().save(*args, **kwargs)


class AuthEvent(models.Model):
    """Security-relevant account events, visible to the account holder (no secrets, no PHI)."""

    class Kind(models.TextChoices):
        REGISTERED = "account.registered", _("Account registered")
        ACTIVATED = "account.activated", _("Account activated")
        LOGIN = "account.login", _("Logged in")
        LOGIN_FAILED = "account.login_failed", _("Failed login")
        LOCKED = "account.locked", _("Account locked after repeated failed logins")
        UNLOCKED = "account.unlocked", _("Account unlocked")
        LOGOUT = "account.logout", _("Logged out")
        PASSWORD_CHANGED = "account.password_changed", _("Password changed")
        RECOVERED = "account.recovered", _("Password reset with the activation code")
        RESET = "account.reset", _("Account reset: new keys, earlier data lost")
        AC_FAILED = "account.activation_code_failed", _("Wrong activation code entered")
        TOKEN_CREATED = "account.token_created", _("API token created")
        TOKEN_REVOKED = "account.token_revoked", _("API token revoked")
        TOKENS_REVOKED = "account.tokens_revoked", _("All API tokens revoked")

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="auth_events")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    ip_hash = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-at"])]

    @override
    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A personal API token (DICOMweb, JSON API, the ``hds`` client); revocable.

    The token's 256-bit secret never rests anywhere on the server: the row keeps its SHA-256 (to
    check it) and the account master secret wrapped under a key derived from it, so presenting
    the token unlocks the account's keys for that one request (docs/security.md, API tokens).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    secret_hash = models.BinaryField(max_length=32)
    wrapped_ams = models.BinaryField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    @override
    def __str__(self) -> str:
        return self.name

    @property
    def is_expired(self) -> bool:
        """Whether the token has passed its expiry (it is refused from then on)."""
        return self.expires_at <= timezone.now()
