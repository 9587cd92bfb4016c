"""Password rules beyond Django's: a strength floor (zxcvbn) and a generous maximum length.

No composition rules (ASVS 5.0 6.2.5); minimum 12 and the common-password list come from
Django's validators, configured in settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from zxcvbn import zxcvbn

MIN_SCORE = 2


class StrengthValidator:
    """Refuse passwords zxcvbn rates as too guessable (score below 2 of 4)."""

    def validate(self, password: str, user: Any = None) -> None:
        """Raise ValidationError for weak passwords."""
        inputs = [str(getattr(user, "email", "") or "")] if user is not None else []
        result = zxcvbn(password[:100], user_inputs=[i for i in inputs if i])
        if int(result["score"]) < MIN_SCORE:
            raise ValidationError(
                _("This password is too easy to guess. Add a few more unusual words."),
                code="password_too_weak",
            )

    def get_help_text(self) -> str:
        """Describe the rule."""
        return _("Use a password that is hard to guess, for example four random words.")


class MaximumLengthValidator:
    """Refuse absurdly long passwords (Argon2id hashes any length, but forms should not)."""

    def validate(self, password: str, user: Any = None) -> None:
        """Raise ValidationError above the maximum."""
        if len(password) > settings.PASSWORD_MAX_LENGTH:
            raise ValidationError(
                _("Use at most %(max)d characters.") % {"max": settings.PASSWORD_MAX_LENGTH},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        """Describe the rule."""
        return _("At most %(max)d characters.") % {"max": settings.PASSWORD_MAX_LENGTH}
