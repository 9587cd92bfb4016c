from django.urls import path

from hds.mfa import views

app_name = "mfa"

urlpatterns = [
    path("login/verify/", views.verify_login, name="verify"),
    path("account/confirm/", views.confirm, name="confirm"),
    path("account/mfa/", views.settings_view, name="settings"),
    path("account/mfa/totp/", views.totp_enrol, name="totp_enrol"),
    path("account/mfa/totp/remove/", views.totp_remove, name="totp_remove"),
    path("account/mfa/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("account/mfa/passkeys/add/", views.passkey_add, name="passkey_add"),
    path(
        "account/mfa/passkeys/<uuid:passkey_id>/remove/",
        views.passkey_remove,
        name="passkey_remove",
    ),
]
