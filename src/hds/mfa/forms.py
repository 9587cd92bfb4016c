"""Forms of the second-factor pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

MAX_RESPONSE_CHARS = 16 * 1024


class SecondFactorForm(forms.Form):
    """A code from the authenticator app or a recovery code; or a passkey's response (script)."""

    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters"}
        ),
    )
    webauthn_response = forms.CharField(
        required=False, max_length=MAX_RESPONSE_CHARS, widget=forms.HiddenInput
    )


class ConfirmForm(SecondFactorForm):
    """Re-authentication before a sensitive change: the password, then a second factor."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ("password", "code", "webauthn_response")


class TotpConfirmForm(forms.Form):
    """The first code of a newly added authenticator app."""

    code = forms.CharField(
        label=_("Six-digit code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasskeyForm(forms.Form):
    """A name for a new passkey, and the browser's response (filled by webauthn.js)."""

    name = forms.CharField(
        label=_("Name of the passkey (e.g. laptop, security key)"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    webauthn_response = forms.CharField(
        required=False, max_length=MAX_RESPONSE_CHARS, widget=forms.HiddenInput
    )
