"""Forms of the account pages. Passwords are validated here; secrets never echo back."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from typing_extensions import override

from hds.accounts.models import Account, Gender, PracticeKind
from hds.crypto.codes import ACTIVATION_CODE_LENGTH, normalize_code
from hds.crypto.errors import InvalidCode

GROUP = 4


class NewPasswordField(forms.CharField):
    """A password input that shows the strength meter."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Password"))
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", settings.PASSWORD_MAX_LENGTH)
        kwargs.setdefault(
            "help_text",
            _("At least %(min)d characters. Long phrases of unusual words are best.")
            % {"min": settings.PASSWORD_MIN_LENGTH},
        )
        kwargs.setdefault(
            "widget",
            forms.PasswordInput(
                attrs={"autocomplete": "new-password", "data-strength-meter": "strength"}
            ),
        )
        super().__init__(**kwargs)


def _check_new_password(form: forms.Form, field: str, email: str) -> None:
    password = form.cleaned_data.get(field)
    if not password:
        return
    try:
        validate_password(password, user=Account(email=email))
    except ValidationError as exc:
        form.add_error(field, exc)


class CodeGroupsMixin(forms.Form):
    """Four fields of four characters for an activation code; joined as ``activation_code``."""

    groups = ACTIVATION_CODE_LENGTH // GROUP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(1, self.groups + 1):
            # No max_length: it would set the HTML maxlength, which must stay 4 (the attrs below)
            # so the page script can split a pasted code; the joined code is validated in clean().
            self.fields[f"code_{i}"] = forms.CharField(
                label=_("Activation code, part %(n)d") % {"n": i},
                widget=forms.TextInput(
                    attrs={
                        "class": "code-group",
                        "maxlength": GROUP,
                        "autocomplete": "off",
                        "autocapitalize": "characters",
                        "spellcheck": "false",
                    }
                ),
            )

    def code_fields(self) -> list[forms.BoundField]:
        """The bound code fields, for the template."""
        return [self[f"code_{i}"] for i in range(1, self.groups + 1)]

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        parts = [cleaned.get(f"code_{i}") or "" for i in range(1, self.groups + 1)]
        joined = "".join(parts)
        if all(parts):
            try:
                cleaned["activation_code"] = normalize_code(joined, ACTIVATION_CODE_LENGTH)
            except InvalidCode:
                raise ValidationError(
                    _(
                        "An activation code has 16 letters and digits, in four groups of four. "
                        "Please check what you typed."
                    )
                ) from None
        return cleaned


class TermsMixin(forms.Form):
    accept_terms = forms.BooleanField(
        label=_("I agree that HDS stores my data encrypted, as described in the privacy notice."),
        required=True,
    )


class PatientRegistrationForm(TermsMixin):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = NewPasswordField()
    gender = forms.ChoiceField(
        label=_("Gender"),
        choices=Gender.choices,
        help_text=_("Your radiology uses gender and date of birth to file your images correctly."),
    )
    birth_date = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )

    field_order = ("email", "password", "gender", "birth_date", "accept_terms")

    def clean_birth_date(self) -> datetime.date:
        value: datetime.date = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if value > today or value.year < today.year - 130:
            raise ValidationError(_("Please enter your real date of birth."))
        return value

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_new_password(self, "password", cleaned.get("email", ""))
        return cleaned


class ProfessionalRegistrationForm(TermsMixin):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = NewPasswordField()
    title = forms.CharField(label=_("Title"), max_length=50, required=False)
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    practice_kind = forms.ChoiceField(label=_("Kind of practice"), choices=PracticeKind.choices)
    practice_name = forms.CharField(label=_("Practice or department"), max_length=200)
    specialty = forms.CharField(label=_("Specialty"), max_length=100, required=False)
    street = forms.CharField(label=_("Street and number"), max_length=200)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20)
    city = forms.CharField(label=_("City"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_new_password(self, "password", cleaned.get("email", ""))
        return cleaned


class LoginForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class TokenMixin(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput(attrs={"data-fragment": "t"}), max_length=400)


class ActivationForm(TokenMixin, CodeGroupsMixin):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_(
            "The password you chose at registration. If your radiology registered you, choose "
            "your password now."
        ),
    )


class RecoverForm(TokenMixin, CodeGroupsMixin):
    new_password = NewPasswordField(label=_("New password"))

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _check_new_password(self, "new_password", self.email)
        return cleaned


class ResetForm(TokenMixin):
    understand = forms.BooleanField(
        label=_(
            "I understand that all medical data in my account and any premium membership will be "
            "permanently lost."
        ),
        required=True,
    )
    new_password = NewPasswordField(label=_("New password"))

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_new_password(self, "new_password", "")
        return cleaned


class ChangePasswordForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = NewPasswordField(label=_("New password"))

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    @override
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_new_password(self, "new_password", self.email)
        current, new = cleaned.get("current_password"), cleaned.get("new_password")
        if current and new and current == new:
            self.add_error("new_password", _("The new password must differ from the current one."))
        return cleaned


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class DeleteAccountForm(PasswordConfirmForm):
    understand = forms.BooleanField(
        label=_("I understand that my account and all its data will be deleted irrevocably."),
        required=True,
    )


class ApiTokenForm(PasswordConfirmForm):
    """A new API token: its name, lifetime, and the password typed again (docs/security.md)."""

    LIFETIMES = ((30, _("30 days")), (90, _("90 days")), (180, _("180 days")), (365, _("1 year")))

    name = forms.CharField(
        label=_("Name (for example the device or program)"), max_length=100, strip=True
    )
    days = forms.TypedChoiceField(
        label=_("Expires after"),
        choices=LIFETIMES,
        coerce=int,
        initial=settings.API_TOKEN_DEFAULT_DAYS,
    )
    field_order = ("name", "days", "password")
