"""Labels of the second-factor ``AuthEvent`` kinds (kept here, so accounts needs no migration)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from hds.accounts.models import AuthEvent
from hds.mfa import services

LABELS: dict[str, Promise] = {
    services.TOTP_ENABLED: _("Authenticator app set up"),
    services.TOTP_REMOVED: _("Authenticator app removed"),
    services.PASSKEY_ADDED: _("Passkey added"),
    services.PASSKEY_REMOVED: _("Passkey removed"),
    services.RECOVERY_CODES_NEW: _("New recovery codes made"),
    services.RECOVERY_CODE_USED: _("Recovery code used"),
    services.SECOND_FACTOR_OK: _("Second factor confirmed"),
    services.SECOND_FACTOR_FAILED: _("Wrong second factor"),
}


def event_label(event: AuthEvent) -> str:
    """The holder-facing name of an event, second-factor kinds included."""
    label = LABELS.get(event.kind)
    return str(label) if label is not None else str(event.get_kind_display())
