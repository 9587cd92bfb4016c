"""English and German ship complete: every marked string has a German translation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

from hds.archive.views import upload_labels

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


def test_upload_script_gets_every_label_translated() -> None:
    """Each English fallback of the uploader has a translated counterpart from the server."""
    script = (PO.parents[5] / "frontend/src/upload/labels.js").read_text()
    block = script.split("const DEFAULT_LABELS = {", 1)[1].split("}", 1)[0]
    keys = set(re.findall(r"^\s*(\w+):", block, re.MULTILINE))
    with translation.override("de"):
        labels = json.loads(upload_labels())
    assert set(labels) == keys
    assert labels["retry"].startswith("Verbindungsproblem")
