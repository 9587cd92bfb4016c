"""Response headers, CSRF, and the authorisation matrix over every URL (docs/security.md, Web
hardening and Tests that prove it)."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from pydicom import dcmread

from hds.accounts.models import ApiToken
from hds.archive.models import Item
from hds.mfa.models import Passkey
from tests.archive.conftest import upload_ok
from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Every URL name with (anonymous GET, logged-in GET) statuses. 302 for anonymous on private pages
# goes to the login. Account pages act on the logged-in account only: there is no object id in any
# of these URLs for an outsider to swap; the archive adds object URLs (404 for outsiders) later.
MATRIX: dict[str, tuple[str, int, int]] = {
    "accounts:home": ("/", 200, 302),
    "accounts:healthz": ("/healthz", 200, 200),
    "accounts:register": ("/register/", 200, 200),
    "accounts:register_patient": ("/register/patient/", 200, 200),
    "accounts:register_professional": ("/register/professional/", 200, 200),
    "accounts:register_done": ("/register/code/", 302, 302),
    "accounts:passport_pdf": ("/register/passport.pdf", 302, 302),
    "accounts:activate": ("/activate/", 200, 200),
    "accounts:resend_activation": ("/activate/resend/", 200, 200),
    "accounts:login": ("/login/", 200, 200),
    "accounts:logout": ("/logout/", 405, 405),
    "accounts:forgot_password": ("/password/forgot/", 200, 200),
    "accounts:recover": ("/recover/", 200, 200),
    "accounts:reset": ("/reset/", 200, 200),
    "accounts:unlock": ("/unlock/", 200, 200),
    "accounts:account": ("/account/", 302, 200),
    "accounts:account_language": ("/account/language/", 302, 405),
    "accounts:change_password": ("/account/password/", 302, 200),
    "accounts:regenerate_code": ("/account/activation-code/", 302, 200),
    "accounts:delete_account": ("/account/delete/", 302, 200),
    "accounts:api_tokens": ("/account/tokens/", 302, 200),
    # {token} is alice's: GET is refused for everyone (POST only); charlie's POST gets 404 below.
    "accounts:revoke_api_token": ("/account/tokens/{token}/revoke/", 302, 405),
    # Second factors (hds.mfa): the login's second step without a pending login goes back to
    # the login; {passkey} is alice's (POST only; charlie's POST gets 404 below).
    "mfa:verify": ("/login/verify/", 302, 302),
    "mfa:confirm": ("/account/confirm/", 302, 200),
    "mfa:settings": ("/account/mfa/", 302, 200),
    "mfa:totp_enrol": ("/account/mfa/totp/", 302, 200),
    "mfa:totp_remove": ("/account/mfa/totp/remove/", 302, 405),
    "mfa:recovery_codes": ("/account/mfa/recovery-codes/", 302, 405),
    "mfa:passkey_add": ("/account/mfa/passkeys/add/", 302, 200),
    "mfa:passkey_remove": ("/account/mfa/passkeys/{passkey}/remove/", 302, 405),
    "set_language": ("/i18n/setlang/", 302, 302),
    # The archive: {study}, {item} and {finding} belong to alice; charlie is the outsider: 404.
    "archive:documents": ("/documents/", 302, 200),
    "archive:upload": ("/upload/", 302, 200),
    "archive:study": ("/documents/{study}/", 302, 404),
    "archive:delete": ("/documents/{study}/delete/", 302, 404),
    "archive:download": ("/documents/{study}/download.zip", 302, 404),
    "archive:download_selection": ("/documents/download.zip?study={study}", 302, 404),
    "archive:thumbnail": ("/documents/{study}/items/{item}/thumbnail.jpg", 302, 404),
    "archive:frame": ("/documents/{study}/items/{item}/frames/1.jpg", 302, 404),
    "archive:finding": ("/documents/{study}/findings/{finding}.pdf", 302, 404),
    "viewer:study": ("/viewer/{study}/", 302, 404),
    "viewer:offline": ("/viewer/{study}/offline.json", 302, 404),
    # The installable web app's shell: the same for everyone, no user data (docs/pwa.md).
    "viewer:manifest": ("/manifest.webmanifest", 200, 200),
    "viewer:service_worker": ("/sw.js", 200, 200),
    "viewer:offline_page": ("/offline/", 200, 200),
    "viewer:icon": ("/icons/192.png", 200, 200),
    # The JSON API: anonymous 401; the upload calls are POST-only (GET 405).
    "api:upload_plan": ("/api/v1/uploads/plan", 405, 405),
    "api:upload_check": ("/api/v1/uploads/check", 405, 405),
    "api:upload": ("/api/v1/uploads", 405, 405),
    "api:api-root": ("/api/v1/", 404, 404),
    "api:openapi-json": ("/api/v1/openapi.json", 200, 200),
    "api:openapi-view": ("/api/v1/docs", 200, 200),
    # DICOMweb: anonymous 401 (WWW-Authenticate: Bearer); charlie's own searches are empty (200),
    # alice's study, series and instance are 404 for him.
    "dicomweb:studies": ("/dicomweb/studies", 401, 200),
    "dicomweb:all_series": ("/dicomweb/series", 401, 200),
    "dicomweb:all_instances": ("/dicomweb/instances", 401, 200),
    "dicomweb:study": ("/dicomweb/studies/{study_uid}", 401, 404),
    "dicomweb:study_metadata": ("/dicomweb/studies/{study_uid}/metadata", 401, 404),
    "dicomweb:study_thumbnail": ("/dicomweb/studies/{study_uid}/thumbnail", 401, 404),
    "dicomweb:study_series": ("/dicomweb/studies/{study_uid}/series", 401, 404),
    "dicomweb:study_instances": ("/dicomweb/studies/{study_uid}/instances", 401, 404),
    "dicomweb:series": ("/dicomweb/studies/{study_uid}/series/{series_uid}", 401, 404),
    "dicomweb:series_metadata": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/metadata",
        401,
        404,
    ),
    "dicomweb:series_thumbnail": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/thumbnail",
        401,
        404,
    ),
    "dicomweb:series_instances": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances",
        401,
        404,
    ),
    "dicomweb:instance": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}",
        401,
        404,
    ),
    "dicomweb:instance_metadata": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/metadata",
        401,
        404,
    ),
    "dicomweb:instance_rendered": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/rendered",
        401,
        404,
    ),
    "dicomweb:instance_thumbnail": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/thumbnail",
        401,
        404,
    ),
    "dicomweb:frames": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/1",
        401,
        404,
    ),
    "dicomweb:frames_rendered": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/1/rendered",
        401,
        404,
    ),
    "dicomweb:bulkdata": (
        "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/bulkdata/7FE00010",
        401,
        404,
    ),
}


def _names(resolver: URLResolver, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _names(pattern, ns)
        elif pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_url_is_in_the_matrix() -> None:
    assert _names(get_resolver()) == set(MATRIX)


# 302s that go elsewhere than the login: the language switch and the once-only code pages.
NO_LOGIN_REDIRECT = {
    "set_language",
    "accounts:register_done",
    "accounts:passport_pdf",
    "mfa:verify",
}


@pytest.fixture
def alice_objects(alice: Persona) -> dict[str, str]:
    """Alice's study with one instance and one finding: the objects charlie must not reach."""
    client = Client()
    log_in(client, alice)
    data = ct_series(1)[0]
    result = upload_ok(client, data)
    study = str(result["study_url"]).split("/")[2]
    upload_ok(client, PDF, "f.pdf", study=study)
    ds = dcmread(BytesIO(data))
    client.post("/account/tokens/", {"name": "laptop", "days": "90", "password": alice.password})
    return {
        "study": study,
        "item": str(Item.objects.get(kind="instance").pk),
        "finding": str(Item.objects.get(kind="finding").pk),
        "study_uid": str(ds.StudyInstanceUID),
        "series_uid": str(ds.SeriesInstanceUID),
        "sop_uid": str(ds.SOPInstanceUID),
        "token": str(ApiToken.objects.get(account__email=alice.email).pk),
        "passkey": str(
            Passkey.objects.create(
                account=alice.account, name="laptop", credential_id=b"id", public_key=b"key"
            ).pk
        ),
    }


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_statuses_for_anonymous_and_outsider(
    name: str, client: Client, charlie: Persona, alice_objects: dict[str, str]
) -> None:
    template, anonymous, logged_in = MATRIX[name]
    path = template.format(**alice_objects)
    response = client.get(path)
    assert response.status_code == anonymous
    goes_to_login = name not in NO_LOGIN_REDIRECT
    if anonymous == 302 and goes_to_login:
        assert response["Location"].startswith("/login/?next=")
    log_in(client, charlie)
    assert client.get(path).status_code == logged_in


def test_outsider_cannot_remove_a_passkey(
    client: Client, charlie: Persona, alice_objects: dict[str, str]
) -> None:
    log_in(client, charlie)
    response = client.post(f"/account/mfa/passkeys/{alice_objects['passkey']}/remove/")
    assert response.status_code == 404
    assert Passkey.objects.filter(pk=alice_objects["passkey"]).exists()


def test_outsider_cannot_revoke_a_token(
    client: Client, charlie: Persona, alice_objects: dict[str, str]
) -> None:
    log_in(client, charlie)
    response = client.post(f"/account/tokens/{alice_objects['token']}/revoke/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=alice_objects["token"]).exists()


@pytest.mark.parametrize("name", [n for n in sorted(MATRIX) if n.startswith("api:upload")])
def test_api_posts_need_a_login(name: str, client: Client) -> None:
    response = client.post(MATRIX[name][0], {}, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_no_secret_travels_in_a_path_or_query(name: str) -> None:
    path = MATRIX[name][0]
    assert "?" not in path or path.endswith("?study={study}")  # ids, never secrets
    assert not re.search(r"<(token|code|password|secret)", path)


def test_security_headers_on_pages(client: Client) -> None:
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce
    assert f'nonce="{nonce.group(1)}"' in response.content.decode()
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "no-store, private"
    assert "camera=(self)" in response["Permissions-Policy"]


def test_post_without_csrf_token_is_refused(alice: Persona) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": alice.email, "password": alice.password})
    assert response.status_code == 403
    log_in(Client(), alice)  # the same login with a token works


def test_logout_needs_csrf_token(alice: Persona) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    response = client.post(
        "/login/",
        {"email": alice.email, "password": alice.password, "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 302
    assert client.post("/logout/").status_code == 403
    assert client.get("/documents/").status_code == 200


def test_pages_render_in_german(client: Client) -> None:
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Language"] == "de"
    assert "Anmelden" in response.content.decode()
