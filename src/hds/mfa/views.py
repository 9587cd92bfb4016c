"""Second-factor pages: the login's second step, re-authentication, and the MFA settings."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from hds.accounts import services as account_services
from hds.accounts import throttle
from hds.accounts.http import current_account, posted
from hds.accounts.models import Account, AuthEvent
from hds.accounts.views import _start_session, unlocked_required
from hds.core.errors import RateLimited
from hds.crypto.errors import InvalidCode
from hds.keys.keyring import try_keyring, update_keyring
from hds.mfa import enforcement, pending, services
from hds.mfa.forms import ConfirmForm, PasskeyForm, SecondFactorForm, TotpConfirmForm
from hds.mfa.models import Passkey, TotpDevice
from hds.mfa.stepup import mark_recent_auth, recent_auth_required

NEW_TOTP = "mfa_new_totp"
AUTH_CHALLENGE = "_hds_webauthn_get"
REG_CHALLENGE = "_hds_webauthn_create"


def _keep_challenge(request: HttpRequest, key: str, challenge: bytes) -> None:
    request.session[key] = base64.urlsafe_b64encode(challenge).decode("ascii")


def _pop_challenge(request: HttpRequest, key: str) -> bytes | None:
    """A ceremony's challenge, usable once."""
    value = request.session.pop(key, None)
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value)
    except (binascii.Error, ValueError):
        return None


def _passkey_context(request: HttpRequest, account: Account) -> dict[str, Any]:
    found = services.authentication_options(account)
    if found is None:
        return {}
    options, challenge = found
    _keep_challenge(request, AUTH_CHALLENGE, challenge)
    return {"passkey_options": options}


def _second_factor_ok(request: HttpRequest, account: Account, data: dict[str, Any]) -> bool:
    response = str(data.get("webauthn_response") or "")
    if response:
        challenge = _pop_challenge(request, AUTH_CHALLENGE)
        return challenge is not None and services.verify_passkey(account, response, challenge)
    code = str(data.get("code") or "")
    return bool(code) and services.check_code(account, code)


def _too_many(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    messages.error(request, str(exc))
    response = redirect("accounts:login")
    response["Retry-After"] = str(exc.retry_after)
    return response


@sensitive_post_parameters("code", "webauthn_response")
@never_cache
@require_http_methods(["GET", "POST"])
def verify_login(request: HttpRequest) -> HttpResponse:
    """The login's second step: a TOTP or recovery code, or a passkey."""
    had_pending = pending.exists(request)
    state = pending.load(request)
    if state is None:
        if had_pending:
            messages.info(request, _("The login took too long. Please log in again."))
        return redirect("accounts:login")
    account = state.account
    form = SecondFactorForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            pending.check_allowed(account)
        except RateLimited as exc:
            pending.clear(request)
            return _too_many(request, exc)
        ip_hash = throttle.ip_hash(request)
        if _second_factor_ok(request, account, form.cleaned_data):
            ams = pending.take_ams(request)
            if ams is None:
                messages.warning(request, _("Your session is locked. Please log in again."))
                return redirect("accounts:login")
            pending.record_account_success(account)
            _start_session(request, account, ams)
            AuthEvent.objects.create(
                account=account, kind=services.SECOND_FACTOR_OK, ip_hash=ip_hash
            )
            return HttpResponseRedirect(state.next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        failures = pending.record_failure(request, account)
        AuthEvent.objects.create(
            account=account, kind=services.SECOND_FACTOR_FAILED, ip_hash=ip_hash
        )
        if failures >= pending.MAX_FAILURES:
            pending.clear(request)
            services.mail_failed_second_factor(account)
            messages.error(request, _("Too many wrong codes. Please log in again."))
            return redirect("accounts:login")
        form.add_error(None, _("This code is not correct."))
    context = {
        "form": form,
        "status": services.status(account),
        **_passkey_context(request, account),
    }
    return render(request, "mfa/verify.html", context)


@sensitive_post_parameters("password", "code", "webauthn_response")
@sensitive_variables("form")
@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """Re-authentication before a sensitive change; returns to ``next``."""
    account = current_account(request)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("accounts:account")
    enrolled = services.is_enrolled(account)
    form = ConfirmForm(posted(request))
    if not enrolled:
        del form.fields["code"]
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            throttle.check_login_allowed(account.email, request)
            if enrolled:
                pending.check_allowed(account)
            account_services.unlock_master_secret(account, form.cleaned_data["password"])
        except RateLimited as exc:
            messages.error(request, str(exc))
            status = 429
        except account_services.LoginFailed:
            throttle.record_login_failure(account.email, request)
            form.add_error("password", _("Your password is not correct."))
        else:
            if enrolled and not _second_factor_ok(request, account, form.cleaned_data):
                pending.record_account_failure(account)
                form.add_error(None, _("This code is not correct."))
            else:
                throttle.record_login_success(account.email)
                if enrolled:
                    pending.record_account_success(account)
                mark_recent_auth(request)
                return HttpResponseRedirect(next_url)
    context: dict[str, Any] = {"form": form, "next": next_url, "enrolled": enrolled}
    if enrolled:
        context.update(status=services.status(account), **_passkey_context(request, account))
    return render(request, "mfa/confirm.html", context, status=status)


@login_required
@require_safe
def settings_view(request: HttpRequest) -> HttpResponse:
    """Two-factor authentication: status, authenticator app, passkeys, recovery codes."""
    account = current_account(request)
    return render(
        request,
        "mfa/settings.html",
        {
            "status": services.status(account),
            "passkeys": Passkey.objects.filter(account=account).order_by("created_at"),
            "deadline": enforcement.grace_deadline(account),
            "must_enrol": enforcement.must_enrol(account),
        },
    )


def _show_codes(request: HttpRequest, codes: list[str] | None) -> HttpResponse:
    """Show new recovery codes once (they are not stored), or go back to the settings."""
    if not codes:
        return redirect("mfa:settings")
    return render(request, "mfa/recovery_codes.html", {"codes": codes})


@sensitive_post_parameters("code")
@sensitive_variables("secret")
@unlocked_required
@recent_auth_required
@require_http_methods(["GET", "POST"])
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: QR code, then its first code confirms it."""
    account = current_account(request)
    if TotpDevice.objects.filter(account=account).exists():
        messages.info(request, _("An authenticator app is already set up."))
        return redirect("mfa:settings")
    keyring = try_keyring(request)
    secret = keyring.get(NEW_TOTP) if keyring else None
    if secret is None:
        secret = services.new_totp_secret()
        update_keyring(request, **{NEW_TOTP: secret})
    form = TotpConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.enable_totp(account, secret, form.cleaned_data["code"])
        except InvalidCode:
            form.add_error(
                "code",
                _("This code is not correct. Check the time on your phone and try the next code."),
            )
        else:
            update_keyring(request, **{NEW_TOTP: None})
            messages.success(request, _("The authenticator app is set up."))
            return _show_codes(request, codes)
    key = services.totp_key_text(secret)
    return render(
        request,
        "mfa/totp_enrol.html",
        {
            "form": form,
            "qr": services.qr_data_uri(services.totp_uri(account, secret)),
            "key": " ".join(key[i : i + 4] for i in range(0, len(key), 4)),
        },
    )


@login_required
@require_POST
@recent_auth_required
def totp_remove(request: HttpRequest) -> HttpResponse:
    """Remove the authenticator app."""
    if services.remove_totp(current_account(request)):
        messages.success(request, _("The authenticator app was removed."))
    return redirect("mfa:settings")


@login_required
@require_POST
@recent_auth_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Make ten new recovery codes; the old ones stop working."""
    account = current_account(request)
    if not services.is_enrolled(account):
        messages.info(request, _("Set up an authenticator app or a passkey first."))
        return redirect("mfa:settings")
    return _show_codes(request, services.regenerate_recovery_codes(account))


@sensitive_post_parameters("webauthn_response")
@recent_auth_required
@require_http_methods(["GET", "POST"])
def passkey_add(request: HttpRequest) -> HttpResponse:
    """Register a passkey (the browser's part runs in webauthn.js)."""
    account = current_account(request)
    form = PasskeyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        response = form.cleaned_data["webauthn_response"]
        challenge = _pop_challenge(request, REG_CHALLENGE)
        if not response or challenge is None:
            form.add_error(None, _("Your browser did not create a passkey. Please try again."))
        else:
            try:
                passkey, codes = services.register_passkey(
                    account,
                    name=form.cleaned_data["name"],
                    response_json=response,
                    challenge=challenge,
                )
            except services.PasskeyError:
                form.add_error(None, _("The passkey could not be verified. Please try again."))
            else:
                messages.success(
                    request, _("The passkey “%(name)s” was added.") % {"name": passkey.name}
                )
                return _show_codes(request, codes)
    options, challenge = services.registration_options(account)
    _keep_challenge(request, REG_CHALLENGE, challenge)
    return render(request, "mfa/passkey_add.html", {"form": form, "passkey_options": options})


@login_required
@require_POST
@recent_auth_required
def passkey_remove(request: HttpRequest, passkey_id: UUID) -> HttpResponse:
    """Remove one of the account's passkeys (another account's: 404)."""
    if not services.remove_passkey(current_account(request), passkey_id):
        raise Http404
    messages.success(request, _("The passkey was removed."))
    return redirect("mfa:settings")
