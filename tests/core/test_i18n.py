"""English and German ship complete: every marked string has a German translation."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.test import Client

PO = Path(__file__).resolve().parents[2] / "src/hds/locale/de/LC_MESSAGES/django.po"


def test_german_catalogue_is_complete_and_not_fuzzy() -> None:
    catalogue = polib.pofile(str(PO))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    assert len(catalogue.translated_entries()) > 200


@pytest.mark.django_db
def test_language_switch_sets_the_page_language(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/login/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/login/"
    assert "Passwort vergessen?" in response.content.decode()
