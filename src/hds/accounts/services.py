"""Account life cycle: create, register, activate, log in, change, recover, reset, delete.

Keys (docs/security.md, Keys and wraps, Account lifecycle): each account has a random 32-byte
master secret (AMS) from
which its X25519 and Ed25519 keys derive. The AMS is stored only wrapped: under the password
(Argon2id, then the server pepper) and under the activation code (Argon2id, no pepper). Logging in
unwraps it into the session keyring; recovering the password with the activation code re-wraps
the same AMS, so data is kept byte for byte; an account reset makes a new AMS, so everything sealed
to the old keys is lost by construction.
"""

from __future__ import annotations

import datetime
import hmac
import logging
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hds.accounts import apitokens, throttle
from hds.accounts.models import Account, AuthEvent, Role, normalize_email
from hds.accounts.signals import account_deleting, account_keys_replaced
from hds.accounts.tokens import Purpose, check_token, make_token
from hds.core.errors import DomainError
from hds.core.jobs import periodic
from hds.crypto.accountkeys import (
    ac_wrap_aad,
    activation_kek,
    derive_account_keys,
    new_master_secret,
    password_material,
    pw_wrap_aad,
)
from hds.crypto.codes import ACTIVATION_CODE_LENGTH, format_code, generate_code, normalize_code
from hds.crypto.errors import InvalidCiphertext, InvalidCode
from hds.crypto.kdf import Argon2Params, random_bytes
from hds.crypto.wrap import unwrap_secret, wrap_secret
from hds.keys.directory import sign_keys
from hds.keys.sessions import end_sessions_of
from hds.notifications.mail import send_templated_mail

logger = logging.getLogger(__name__)


class LoginFailed(DomainError):
    """Wrong e-mail or password (deliberately the same message for both)."""


class NotActivated(DomainError):
    """Right password, but the account was not activated yet."""


class AccountLocked(DomainError):
    """Locked after too many failed logins; the unlock link was mailed."""


class InvalidLink(DomainError):
    """A mailed link is wrong, expired or already used."""


class WrongActivationCode(DomainError):
    """The activation code does not open this account."""


@dataclass(frozen=True)
class NewAccount:
    """A freshly keyed account and its activation code, to show once and never store."""

    account: Account
    activation_code: str

    @property
    def formatted_code(self) -> str:
        """The code as four groups of four."""
        return format_code(self.activation_code)


def argon2_params() -> Argon2Params:
    """The Argon2id cost for new password and activation-code wraps (settings, §3.13)."""
    memory, iterations, lanes = (int(x) for x in settings.ARGON2_PASSWORD.split(","))
    return Argon2Params(memory_kib=memory, iterations=iterations, lanes=lanes)


def _current_pepper() -> tuple[int, bytes]:
    version = max(settings.HDS_PEPPERS)
    return version, settings.HDS_PEPPERS[version]


def _account_id_bytes(account: Account) -> bytes:
    return str(account.pk).encode("ascii")


def _set_password_wrap(account: Account, ams: bytes, password: str) -> None:
    params = argon2_params()
    version, pepper = _current_pepper()
    salt = random_bytes(16)
    with throttle.argon2_slot():
        material = password_material(password, salt, params, pepper)
    account.pw_salt = salt
    account.pw_params = params.to_dict()
    account.pepper_version = version
    account.pw_verifier = material.verifier
    account.wrap_pw = wrap_secret(material.kek, ams, pw_wrap_aad(_account_id_bytes(account)))
    account.password_changed_at = timezone.now()


def _set_activation_wrap(account: Account, ams: bytes) -> str:
    code = generate_code(ACTIVATION_CODE_LENGTH)
    params = argon2_params()
    salt = random_bytes(16)
    with throttle.argon2_slot():
        kek = activation_kek(code, salt, params)
    account.ac_salt = salt
    account.ac_params = params.to_dict()
    account.wrap_ac = wrap_secret(kek, ams, ac_wrap_aad(_account_id_bytes(account)))
    account.ac_created_at = timezone.now()
    return code


def _set_keys(account: Account, ams: bytes) -> None:
    pair = derive_account_keys(ams)
    account.x25519_public = pair.x25519_public
    account.ed25519_public = pair.ed25519_public
    account.keys_created_at = timezone.now().replace(microsecond=0)
    account.directory_signature = sign_keys(
        "account", account, int(account.keys_created_at.timestamp())
    )


def _unwrap_with_password(account: Account, password: str) -> bytes | None:
    if not account.has_password:
        return None
    params = Argon2Params.from_dict(account.pw_params)
    pepper = settings.HDS_PEPPERS.get(account.pepper_version)
    if pepper is None:
        logger.error("pepper version %s missing", account.pepper_version)
        return None
    with throttle.argon2_slot():
        material = password_material(password, bytes(account.pw_salt), params, pepper)
    if not hmac.compare_digest(material.verifier, bytes(account.pw_verifier)):
        return None
    try:
        return unwrap_secret(
            material.kek, bytes(account.wrap_pw), pw_wrap_aad(_account_id_bytes(account))
        )
    except InvalidCiphertext:
        return None


def _unwrap_with_code(account: Account, code_text: str, ip: str | None = None) -> bytes:
    throttle.check_code_allowed(account.pk, ip)
    try:
        code = normalize_code(code_text, ACTIVATION_CODE_LENGTH)
    except InvalidCode:
        code = None
    ams = None
    if code is not None:
        with throttle.argon2_slot():
            kek = activation_kek(
                code, bytes(account.ac_salt), Argon2Params.from_dict(account.ac_params)
            )
        try:
            ams = unwrap_secret(
                kek, bytes(account.wrap_ac), ac_wrap_aad(_account_id_bytes(account))
            )
        except InvalidCiphertext:
            ams = None
    if ams is None:
        failures = throttle.record_code_failure(account.pk, ip)
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.AC_FAILED)
        if failures == throttle.AC_MAX_FAILURES:
            mail_after_commit("code_locked", account)
        raise WrongActivationCode(
            _("This activation code does not belong to this account. Check it on your passport.")
        )
    return ams


def _dummy_argon2() -> None:
    """Spend the same work as a real check, so unknown addresses cost the same time (§6.4)."""
    with throttle.argon2_slot():
        password_material("dummy password", b"\0" * 16, argon2_params(), _current_pepper()[1])


def mail_after_commit(template: str, account: Account, **context: Any) -> None:
    """Send a templated mail to the account once the current transaction commits."""
    email, language = account.email, account.language

    def _send() -> None:
        try:
            send_templated_mail(template, to=email, language=language, context=context)
        except (OSError, smtplib.SMTPException) as exc:
            # The account is stored; the user can ask for the mail again.
            logger.error("mail %s could not be sent: %s", template, type(exc).__name__)

    transaction.on_commit(_send)


def _link(path: str, token: str) -> str:
    return f"{settings.BASE_URL}{path}#t={token}"


PROFILE_FIELDS = (
    "gender",
    "birth_date",
    "title",
    "first_name",
    "last_name",
    "practice_kind",
    "practice_name",
    "specialty",
    "street",
    "postal_code",
    "city",
    "country",
    "phone",
)


def _check_profile(role: str, profile: dict[str, Any]) -> None:
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"unknown profile fields: {', '.join(sorted(unknown))}")
    if role == Role.PATIENT and (not profile.get("gender") or not profile.get("birth_date")):
        raise DomainError(_("Patients give their gender and date of birth."))
    if role == Role.PROFESSIONAL and not (
        profile.get("last_name") and profile.get("practice_name")
    ):
        raise DomainError(_("Professionals give their name and their practice or department."))


@transaction.atomic
def create_account(
    *,
    email: str,
    password: str | None,
    role: str,
    language: str = "en",
    profile: dict[str, Any] | None = None,
    activated: bool = False,
) -> NewAccount:
    """Create an account with fresh keys; return it with its activation code (shown once).

    ``password`` may be None for accounts that a radiology creates: they set it at activation.
    ``activated`` is for operator provisioning (``hds account create``) and the demo.
    """
    profile = dict(profile or {})
    _check_profile(role, profile)
    email = normalize_email(email)
    if Account.objects.filter(email=email).exists():
        raise DomainError(_("An account with this e-mail address exists already."))
    account = Account(
        email=email,
        role=role,
        language=language,
        quota_bytes=settings.DEFAULT_QUOTA_BYTES,
        **profile,
    )
    ams = new_master_secret()
    _set_keys(account, ams)
    code = _set_activation_wrap(account, ams)
    if password is not None:
        _set_password_wrap(account, ams, password)
    if activated:
        account.activated_at = timezone.now()
    account.save()
    AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.REGISTERED)
    if activated:
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.ACTIVATED)
    return NewAccount(account=account, activation_code=code)


def register_account(
    *,
    email: str,
    password: str,
    role: str,
    language: str,
    profile: dict[str, Any],
) -> NewAccount | str:
    """Self-registration. Returns the new account, or for a taken address a decoy code.

    The response must not tell whether an address is registered (ASVS 5.0 6.3.8): for a taken
    address the page shows a code that opens nothing, and the address's owner gets a mail saying
    that someone tried to register with it. Both paths do the same Argon2id work.
    """
    email = normalize_email(email)
    existing = Account.objects.filter(email=email).first()
    if existing is not None:
        _dummy_argon2()
        _dummy_argon2()
        with transaction.atomic():
            mail_after_commit("already_registered", existing)
        return generate_code(ACTIVATION_CODE_LENGTH)
    with transaction.atomic():
        new = create_account(
            email=email, password=password, role=role, language=language, profile=profile
        )
        send_activation_mail(new.account)
    return new


def send_activation_mail(account: Account) -> None:
    """Mail the activation link (the code itself is on the passport, never in a mail)."""
    if account.is_activated:
        return
    mail_after_commit(
        "activation",
        account,
        link=_link("/activate/", make_token(account, Purpose.ACTIVATE)),
        days=settings.UNACTIVATED_ACCOUNT_DAYS,
    )


@transaction.atomic
def resend_activation_mail(email: str) -> None:
    """Mail the activation link again if such an unactivated account exists; silent otherwise."""
    account = Account.objects.filter(email=normalize_email(email)).first()
    if account is not None and not account.is_activated:
        send_activation_mail(account)


def activate_account(
    *, token: str, activation_code: str, password: str, new_password: bool, ip: str | None = None
) -> tuple[Account, bytes]:
    """Activate with the mailed link and the passport's code; return the account and its AMS.

    Self-registered accounts confirm their password; radiology-created ones (no password yet)
    set it here (``new_password``).
    """
    account = check_token(token, Purpose.ACTIVATE)
    if account is None:
        raise InvalidLink(
            _("This activation link is invalid or has expired. Ask for a new activation mail.")
        )
    ams = _unwrap_with_code(account, activation_code, ip)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        if account.is_activated:
            raise InvalidLink(_("This account is activated already. Please log in."))
        if account.has_password and not new_password:
            if _unwrap_with_password(account, password) != ams:
                raise LoginFailed(_("The password is not the one you registered with."))
        else:
            _set_password_wrap(account, ams, password)
        account.activated_at = timezone.now()
        account.save()
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.ACTIVATED)
    return account, ams


def log_in(*, email: str, password: str, ip_hash: str, request: Any) -> tuple[Account, bytes]:
    """Check the password and unwrap the AMS in one step; throttle failures.

    Raises ``RateLimited``, ``LoginFailed`` (same for unknown address and wrong password),
    ``NotActivated`` or ``AccountLocked``.
    """
    throttle.check_login_allowed(email, request)
    account = Account.objects.filter(email=normalize_email(email)).first()
    ams = None
    if account is None:
        _dummy_argon2()
    else:
        ams = _unwrap_with_password(account, password)
        if ams is None and not account.has_password:
            _dummy_argon2()
    if account is None or ams is None:
        failures = throttle.record_login_failure(email, request)
        if account is not None:
            AuthEvent.objects.create(
                account=account, kind=AuthEvent.Kind.LOGIN_FAILED, ip_hash=ip_hash
            )
            if failures == 10:
                mail_after_commit("login_failures", account, failures=failures)
            if failures >= throttle.LOGIN_LOCK_FAILURES and account.locked_at is None:
                lock_account(account)
        raise LoginFailed(_("E-mail address or password is not correct."))
    if account.locked_at is not None:
        raise AccountLocked(
            _(
                "This account is locked after many failed logins. We sent an unlock link to its "
                "e-mail address."
            )
        )
    if not account.is_activated:
        raise NotActivated(
            _(
                "Your account is not activated yet. Open the link in the activation mail and enter "
                "the activation code from your passport."
            )
        )
    throttle.record_login_success(email)
    Account.objects.filter(pk=account.pk).update(last_login=timezone.now())
    AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.LOGIN, ip_hash=ip_hash)
    return account, ams


@transaction.atomic
def lock_account(account: Account) -> None:
    """Lock an account after too many failures and mail its holder the unlock link."""
    account.locked_at = timezone.now()
    account.save(update_fields=["locked_at"])
    end_sessions_of(account.pk)
    AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.LOCKED)
    mail_after_commit(
        "account_locked", account, link=_link("/unlock/", make_token(account, Purpose.UNLOCK))
    )


@transaction.atomic
def unlock_account(*, token: str) -> Account:
    """Lift a lockout through the mailed link."""
    account = check_token(token, Purpose.UNLOCK)
    if account is None or account.locked_at is None:
        raise InvalidLink(_("This unlock link is invalid, expired or was used already."))
    account.locked_at = None
    account.save(update_fields=["locked_at"])
    throttle.record_login_success(account.email)
    AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.UNLOCKED)
    return account


def unlock_master_secret(account: Account, password: str) -> bytes:
    """The account's AMS from its password (provisioning and the demo; logins use ``log_in``)."""
    ams = _unwrap_with_password(account, password)
    if ams is None:
        raise LoginFailed(_("E-mail address or password is not correct."))
    return ams


def change_password(
    account: Account, *, current_password: str, new_password: str, keep_session: str | None
) -> None:
    """Re-wrap the AMS under a new password; data and grants stay as they are (§3.11).

    Other sessions of the account end; ``keep_session`` (hashed id) is the one making the change.
    """
    ams = _unwrap_with_password(account, current_password)
    if ams is None:
        raise LoginFailed(_("Your current password is not correct."))
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        _set_password_wrap(account, ams, new_password)
        account.save()
        end_sessions_of(account.pk, keep_hashed_key=keep_session)
        apitokens.revoke_all(account)
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.PASSWORD_CHANGED)
        mail_after_commit("password_changed", account)


@transaction.atomic
def request_password_recovery(email: str) -> None:
    """Mail a recovery link if the address has an activated account; silent otherwise."""
    account = Account.objects.filter(email=normalize_email(email)).first()
    if account is None:
        return
    if not account.is_activated:
        send_activation_mail(account)
        return
    mail_after_commit(
        "recover", account, link=_link("/recover/", make_token(account, Purpose.RECOVER))
    )


def recover_password(
    *, token: str, activation_code: str, new_password: str, ip: str | None = None
) -> Account:
    """Mailbox link + activation code -> new password; the AMS and so all data are kept."""
    account = check_token(token, Purpose.RECOVER)
    if account is None:
        raise InvalidLink(_("This link is invalid, has expired or was used already."))
    ams = _unwrap_with_code(account, activation_code, ip)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        _set_password_wrap(account, ams, new_password)
        account.locked_at = None
        account.save()
        end_sessions_of(account.pk)
        apitokens.revoke_all(account)
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.RECOVERED)
        mail_after_commit("password_recovered", account)
    throttle.record_login_success(account.email)
    return account


@transaction.atomic
def request_account_reset(email: str) -> None:
    """Mail an account-reset link if the address has an account; silent otherwise."""
    account = Account.objects.filter(email=normalize_email(email)).first()
    if account is None:
        return
    mail_after_commit("reset", account, link=_link("/reset/", make_token(account, Purpose.RESET)))


def reset_account(*, token: str, new_password: str) -> NewAccount:
    """Forgot both password and code: new AMS, keys and code; earlier data is lost for good.

    Nothing can unwrap the old AMS afterwards, so every grant sealed to the old keys is useless;
    later apps delete them through ``account_keys_replaced`` (grants, memberships, holdings).
    """
    account = check_token(token, Purpose.RESET)
    if account is None:
        raise InvalidLink(_("This link is invalid, has expired or was used already."))
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        ams = new_master_secret()
        account.key_version += 1
        _set_keys(account, ams)
        code = _set_activation_wrap(account, ams)
        _set_password_wrap(account, ams, new_password)
        account.locked_at = None
        if account.activated_at is None:
            account.activated_at = timezone.now()
        account.save()
        end_sessions_of(account.pk)
        apitokens.revoke_all(account)
        account_keys_replaced.send(sender=Account, account=account)
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.RESET)
        mail_after_commit("account_reset", account)
    throttle.record_login_success(account.email)
    return NewAccount(account=account, activation_code=code)


def regenerate_activation_code(account: Account, *, password: str) -> NewAccount:
    """Replace the activation code (after a recovery, or a lost passport); data is kept."""
    ams = _unwrap_with_password(account, password)
    if ams is None:
        raise LoginFailed(_("Your password is not correct."))
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        code = _set_activation_wrap(account, ams)
        account.save()
        mail_after_commit("activation_code_changed", account)
    return NewAccount(account=account, activation_code=code)


def delete_account(account: Account, *, password: str) -> None:
    """Delete the account, its wraps, sessions and (through signals) everything it holds."""
    if _unwrap_with_password(account, password) is None:
        raise LoginFailed(_("Your password is not correct."))
    email, language = account.email, account.language
    with transaction.atomic():
        end_sessions_of(account.pk)
        apitokens.revoke_all(account)
        account_deleting.send(sender=Account, account=account)
        account.delete()

        def _farewell() -> None:
            try:
                send_templated_mail("account_deleted", to=email, language=language)
            except (OSError, smtplib.SMTPException) as exc:
                logger.error("mail account_deleted could not be sent: %s", type(exc).__name__)

        transaction.on_commit(_farewell)


@periodic(every=datetime.timedelta(hours=1))
def purge_unactivated_accounts() -> None:
    """Delete accounts never activated within ``UNACTIVATED_ACCOUNT_DAYS`` (FAQ: 4 weeks)."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.UNACTIVATED_ACCOUNT_DAYS)
    stale = Account.objects.filter(activated_at__isnull=True, created_at__lt=cutoff)
    count = 0
    for account in stale.iterator():
        with transaction.atomic():
            end_sessions_of(account.pk)
            account_deleting.send(sender=Account, account=account)
            account.delete()
            count += 1
    if count:
        logger.info("purged %s unactivated accounts", count)
