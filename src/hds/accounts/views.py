"""Account pages: parse input, call a service, show the result; keys only via the keyring."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from hds.accounts import apitokens, challenge, services, throttle
from hds.accounts.backends import BACKEND_PATH
from hds.accounts.forms import (
    ActivationForm,
    ApiTokenForm,
    ChangePasswordForm,
    DeleteAccountForm,
    EmailForm,
    LoginForm,
    PasswordConfirmForm,
    PatientRegistrationForm,
    ProfessionalRegistrationForm,
    RecoverForm,
    ResetForm,
)
from hds.accounts.http import current_account, posted
from hds.accounts.models import Account, AuthEvent, Role
from hds.accounts.passport import render_passport_pdf
from hds.core.errors import DomainError, RateLimited
from hds.crypto.accountkeys import key_fingerprint
from hds.crypto.codes import format_code
from hds.keys.keyring import Keyring, store_keyring, try_keyring, update_keyring
from hds.keys.middleware import AUTH_AT, SEEN_AT
from hds.keys.sessions import SessionStore
from hds.mfa import pending as mfa_pending
from hds.mfa.services import is_enrolled as mfa_enrolled
from hds.mfa.stepup import confirm_url, has_recent_auth, mark_recent_auth, recent_auth_required

P = ParamSpec("P")
PENDING_CODE = "pending_ac"
PENDING_EMAIL = "_hds_pending_email"
PENDING_KIND = "_hds_pending_kind"
sensitive = sensitive_post_parameters(
    "password", "new_password", "current_password", "token", "code_1", "code_2", "code_3", "code_4"
)


def unlocked_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Require a logged-in session whose keyring opens; otherwise log in again.

    A session id without the keyring cookie (or after the epoch secret rotated out) is only an
    authenticated shell: data pages send it back to the login (docs/security.md, Sessions).
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        keyring = try_keyring(request)
        if keyring is None or keyring.get("ams") is None:
            auth_logout(request)
            messages.warning(request, _("Your session is locked. Please log in again."))
            return redirect(f"{reverse('accounts:login')}?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapper


def _start_session(request: HttpRequest, account: Account, ams: bytes) -> None:
    auth_login(request, account, backend=BACKEND_PATH)  # cycles the session id (fixation)
    now = int(time.time())
    request.session[AUTH_AT] = now
    request.session[SEEN_AT] = now
    mark_recent_auth(request)  # a fresh login counts as the step-up check (hds.mfa.stepup)
    store_keyring(request, Keyring({"ams": ams}), new_cookie_key=True)
    translation.activate(account.language)
    request.LANGUAGE_CODE = account.language


def _rate_limited(
    request: HttpRequest, template: str, context: dict[str, Any], exc: RateLimited
) -> HttpResponse:
    messages.error(request, str(exc))
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _remember_pending_code(request: HttpRequest, code: str, *, email: str, kind: str) -> None:
    """Keep a just-made activation code for the passport download, sealed in the keyring."""
    update_keyring(request, **{PENDING_CODE: code.encode("ascii")})
    request.session[PENDING_EMAIL] = email
    request.session[PENDING_KIND] = kind


def _pending_code(request: HttpRequest) -> str | None:
    keyring = try_keyring(request)
    value = keyring.get(PENDING_CODE) if keyring else None
    return value.decode("ascii") if value else None


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Landing page, or My documents for a logged-in user."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/home.html")


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness probe for load balancers."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def register_choose(request: HttpRequest) -> HttpResponse:
    """Choose between a patient and a professional account."""
    return render(request, "accounts/register_choose.html")


@sensitive
@sensitive_variables("new", "form")
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest, role: str) -> HttpResponse:
    """Self-registration; afterwards the activation code is shown once with its passport."""
    form_class = PatientRegistrationForm if role == Role.PATIENT else ProfessionalRegistrationForm
    form = form_class(posted(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        email, password = data.pop("email"), data.pop("password")
        data.pop("accept_terms")
        try:
            throttle.take(throttle.REGISTER_PER_IP, throttle.client_ip(request))
            throttle.take_mail(email, request)
            new = services.register_account(
                email=email,
                password=password,
                role=role,
                language=translation.get_language() or settings.LANGUAGE_CODE,
                profile=data,
            )
        except RateLimited as exc:
            return _rate_limited(
                request, "accounts/register_form.html", {"form": form, "role": role}, exc
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            code = new.activation_code if isinstance(new, services.NewAccount) else new
            _remember_pending_code(request, code, email=email, kind="registered")
            return redirect("accounts:register_done")
    return render(request, "accounts/register_form.html", {"form": form, "role": role})


@require_http_methods(["GET", "POST"])
def code_done(request: HttpRequest) -> HttpResponse:
    """Show a just-made activation code once; POST forgets it."""
    code = _pending_code(request)
    if request.method == "POST":
        update_keyring(request, **{PENDING_CODE: None})
        kind = request.session.pop(PENDING_KIND, "registered")
        request.session.pop(PENDING_EMAIL, None)
        if kind == "registered":
            return render(request, "accounts/check_mail.html", {"reason": "activation"})
        return redirect("accounts:account" if request.user.is_authenticated else "accounts:login")
    if code is None:
        messages.info(request, _("The activation code is shown only once, right after it is made."))
        return redirect("accounts:home")
    return render(
        request,
        "accounts/code_done.html",
        {
            "code": format_code(code),
            "groups": format_code(code).split("-"),
            "email": request.session.get(PENDING_EMAIL, ""),
            "kind": request.session.get(PENDING_KIND, "registered"),
        },
    )


@require_safe
def passport_pdf(request: HttpRequest) -> HttpResponse:
    """The printable passport for the code that is pending in this session."""
    code = _pending_code(request)
    if code is None:
        messages.info(
            request, _("The passport can be downloaded only right after the code is made.")
        )
        return redirect("accounts:home")
    email = str(request.session.get(PENDING_EMAIL, ""))
    pdf = render_passport_pdf(
        email=email,
        activation_code=code,
        activation_url=f"{settings.BASE_URL}/activate/#ac={code}",
        issued_on=timezone.localdate(),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="hds-passport.pdf"'
    return response


@sensitive
@sensitive_variables("ams", "form")
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest) -> HttpResponse:
    """Activation: link from the mail (token in the fragment) + code from the passport."""
    form = ActivationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account, ams = services.activate_account(
                token=data["token"],
                activation_code=data["activation_code"],
                password=data["password"],
                new_password=False,
                ip=throttle.client_ip(request),
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/activate.html", {"form": form}, exc)
        except services.InvalidLink as exc:
            form.add_error(None, str(exc))
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            _start_session(request, account, ams)
            messages.success(request, _("Your account is activated. Welcome!"))
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/activate.html", {"form": form})


@require_http_methods(["GET", "POST"])
def resend_activation(request: HttpRequest) -> HttpResponse:
    """Send the activation mail again (same answer whether or not the address exists)."""
    form = EmailForm(posted(request))
    context = {"form": form, "purpose": "resend"}
    if request.method == "POST" and form.is_valid():
        try:
            throttle.take_mail(form.cleaned_data["email"], request)
        except RateLimited as exc:
            return _rate_limited(request, "accounts/email_form.html", context, exc)
        services.resend_activation_mail(form.cleaned_data["email"])
        return render(request, "accounts/check_mail.html", {"reason": "activation"})
    return render(request, "accounts/email_form.html", context)


@sensitive
@sensitive_variables("ams", "form")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Password login: unlocks the account's keys into this session."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = LoginForm(posted(request))
    context: dict[str, Any] = {"form": form, "next": next_url}
    try:
        pow_needed = throttle.login_needs_proof_of_work()
    except RateLimited as exc:
        return _rate_limited(request, "accounts/login.html", context, exc)
    if pow_needed:
        context["pow_challenge"] = challenge.issue()
        context["pow_bits"] = settings.LOGIN_POW_BITS
    if request.method == "POST" and form.is_valid():
        if pow_needed and not challenge.verify(
            request.POST.get("pow_challenge", ""), request.POST.get("pow_nonce", "")
        ):
            form.add_error(
                None,
                _(
                    "Because of many failed logins on this service, your browser must complete "
                    "a short security check first. Please wait until it is done and log in again."
                ),
            )
            response = render(request, "accounts/login.html", context, status=429)
            response["Retry-After"] = "5"
            return response
        try:
            account, ams = services.log_in(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip_hash=throttle.ip_hash(request),
                request=request,
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/login.html", context, exc)
        except services.NotActivated as exc:
            context["not_activated"] = True
            form.add_error(None, str(exc))
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            if mfa_enrolled(account):  # second step first (hds.mfa.views.verify_login)
                mfa_pending.begin(request, account, ams, next_url)
                return redirect("mfa:verify")
            _start_session(request, account, ams)
            return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "accounts/login.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the session: row deleted, cookies and browser storage cleared."""
    if isinstance(request.user, Account):
        AuthEvent.objects.create(account=request.user, kind=AuthEvent.Kind.LOGOUT)
    auth_logout(request)
    messages.success(request, _("You are logged out."))
    response = redirect("accounts:login")
    response["Clear-Site-Data"] = '"cache", "storage"'
    return response


@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    """Forgotten password: recovery mail; with "forgot the code too", the account-reset mail."""
    form = EmailForm(posted(request))
    context = {"form": form, "purpose": "forgot"}
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            throttle.take_mail(email, request)
        except RateLimited as exc:
            return _rate_limited(request, "accounts/email_form.html", context, exc)
        if "forgot_code" in request.POST:
            services.request_account_reset(email)
            return render(request, "accounts/check_mail.html", {"reason": "reset"})
        services.request_password_recovery(email)
        return render(request, "accounts/check_mail.html", {"reason": "recover"})
    return render(request, "accounts/email_form.html", context)


@sensitive
@sensitive_variables("form")
@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    """New password with the mailed link and the activation code: the data is kept."""
    form = RecoverForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.recover_password(
                token=data["token"],
                activation_code=data["activation_code"],
                new_password=data["new_password"],
                ip=throttle.client_ip(request),
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/recover.html", {"form": form}, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            auth_logout(request)
            messages.success(
                request,
                _(
                    "Your new password is set and your data is unchanged. Please log in. We "
                    "recommend making a new activation code under My account afterwards."
                ),
            )
            return redirect("accounts:login")
    return render(request, "accounts/recover.html", {"form": form})


@sensitive
@sensitive_variables("new", "form")
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest) -> HttpResponse:
    """Account reset when both password and code are lost: new keys, all earlier data lost."""
    form = ResetForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            new = services.reset_account(
                token=form.cleaned_data["token"], new_password=form.cleaned_data["new_password"]
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/reset.html", {"form": form}, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            auth_logout(request)
            _remember_pending_code(
                request, new.activation_code, email=new.account.email, kind="reset"
            )
            return redirect("accounts:register_done")
    return render(request, "accounts/reset.html", {"form": form})


@require_http_methods(["GET", "POST"])
def unlock(request: HttpRequest) -> HttpResponse:
    """Lift a lockout with the mailed unlock link (token in the fragment)."""
    if request.method == "POST":
        try:
            throttle.take(throttle.UNLOCK_PER_IP, throttle.client_ip(request))
        except RateLimited as exc:
            return _rate_limited(request, "accounts/unlock.html", {}, exc)
        try:
            services.unlock_account(token=request.POST.get("token", ""))
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your account is unlocked. You can log in again."))
            return redirect("accounts:login")
    return render(request, "accounts/unlock.html")


@login_required
@require_safe
def account_view(request: HttpRequest) -> HttpResponse:
    """My account: details, security events and the account actions."""
    account = current_account(request)
    events = account.auth_events.order_by("-at")[:10]
    return render(
        request,
        "accounts/account.html",
        {
            "account": account,
            "events": events,
            "fingerprint": key_fingerprint(bytes(account.x25519_public)),
            "unlocked": try_keyring(request) is not None,
            "mfa_enrolled": mfa_enrolled(account),
        },
    )


@login_required
@require_POST
def set_account_language(request: HttpRequest) -> HttpResponse:
    """Remember the account's language (pages and mails) and switch to it."""
    account = current_account(request)
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES):
        account.language = language
        account.save(update_fields=["language"])
        translation.activate(language)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("accounts:account")
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        account.language,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@sensitive
@sensitive_variables("form")
@unlocked_required
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    """Change the password; keys and data stay; other sessions end."""
    account = current_account(request)
    form = ChangePasswordForm(posted(request), email=account.email)
    if request.method == "POST" and form.is_valid():
        store = request.session
        assert isinstance(store, SessionStore)
        try:
            services.change_password(
                account,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session=store.hashed_key,
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/change_password.html", {"form": form}, exc)
        except DomainError as exc:
            form.add_error("current_password", str(exc))
        else:
            messages.success(
                request, _("Your password is changed. Other sessions of your account were ended.")
            )
            return redirect("accounts:account")
    return render(request, "accounts/change_password.html", {"form": form})


@sensitive
@sensitive_variables("new", "form")
@unlocked_required
@require_http_methods(["GET", "POST"])
def regenerate_code(request: HttpRequest) -> HttpResponse:
    """Make a new activation code and passport; the old code stops working."""
    account = current_account(request)
    form = PasswordConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            new = services.regenerate_activation_code(
                account, password=form.cleaned_data["password"]
            )
        except RateLimited as exc:
            return _rate_limited(request, "accounts/regenerate_code.html", {"form": form}, exc)
        except DomainError as exc:
            form.add_error("password", str(exc))
        else:
            _remember_pending_code(
                request, new.activation_code, email=account.email, kind="regenerated"
            )
            return redirect("accounts:register_done")
    return render(request, "accounts/regenerate_code.html", {"form": form})


@sensitive
@sensitive_variables("form")
@recent_auth_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Delete the account and everything in it, after password and confirmation."""
    account = current_account(request)
    form = DeleteAccountForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_account(account, password=form.cleaned_data["password"])
        except RateLimited as exc:
            return _rate_limited(request, "accounts/delete_account.html", {"form": form}, exc)
        except DomainError as exc:
            form.add_error("password", str(exc))
        else:
            auth_logout(request)
            messages.success(request, _("Your account and all its data were deleted."))
            response = redirect("accounts:home")
            response["Clear-Site-Data"] = '"cache", "storage"'
            return response
    return render(request, "accounts/delete_account.html", {"form": form})


@sensitive
@sensitive_variables("ams", "form")
@unlocked_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """Personal API tokens: list, create (password typed again; shown once), revoke."""
    account = current_account(request)
    created = None
    form = ApiTokenForm(posted(request))
    status = 200
    if request.method == "POST" and not _token_step_up_done(request, account):
        # With a second factor enrolled the password alone is not enough (docs/security.md).
        return redirect(confirm_url(reverse("accounts:api_tokens")))
    if request.method == "POST" and form.is_valid():
        try:
            throttle.check_login_allowed(account.email, request)
            ams = services.unlock_master_secret(account, form.cleaned_data["password"])
        except RateLimited as exc:
            return _rate_limited(
                request, "accounts/api_tokens.html", _tokens_context(account, form), exc
            )
        except DomainError:
            throttle.record_login_failure(account.email, request)
            form.add_error("password", _("Your password is not correct."))
            status = 400
        else:
            created = apitokens.create_token(
                account,
                ams,
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                ip_hash=throttle.ip_hash(request),
            )
            form = ApiTokenForm()
    elif request.method == "POST":
        status = 400
    context = _tokens_context(account, form)
    context["created"] = created
    return render(request, "accounts/api_tokens.html", context, status=status)


def _token_step_up_done(request: HttpRequest, account: Account) -> bool:
    """A new token needs the password typed in its form; with a second factor enrolled, also a
    step-up (password and second factor) of the last 10 minutes."""
    return has_recent_auth(request) or not mfa_enrolled(account)


def _tokens_context(account: Account, form: ApiTokenForm) -> dict[str, Any]:
    return {
        "form": form,
        "tokens": account.api_tokens.order_by("-created_at"),
        "dicomweb_url": f"{settings.BASE_URL}/dicomweb",
        "max_days": settings.API_TOKEN_MAX_DAYS,
    }


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, token_id: str) -> HttpResponse:
    """Revoke one of the account's tokens; it stops working at once."""
    if not apitokens.revoke_token(current_account(request), token_id):
        raise Http404  # not this account's token (or already gone): the same answer for both
    messages.success(request, _("The token was revoked."))
    return redirect("accounts:api_tokens")
