"""The upload rules shared with the browser: ``src/hds/data/upload_rules.json`` and the golden
vectors ``tests/vectors/upload_plans.json``, which ``frontend/test/upload-plan.test.js`` runs
against ``frontend/src/upload/plan.js`` too (see docs/architecture.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hds import client
from hds.client import LocalFile, apply_plans, group_files

VECTORS = Path(__file__).parents[1] / "vectors" / "upload_plans.json"
RULES = Path(client.__file__).parent / "data" / "upload_rules.json"


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return cases


def test_the_client_reads_its_limits_from_the_shared_rules() -> None:
    rules = json.loads(RULES.read_text(encoding="utf-8"))
    assert client.GROUP_FILES == rules["group_files"] == 16
    assert client.GROUP_BYTES == rules["group_bytes"] == 8 * 1024 * 1024
    assert tuple(float(s) for s in rules["retry_delays_s"]) == client.RETRY_DELAYS_S
    assert frozenset(rules["junk_names"]) == client.JUNK_NAMES


@pytest.mark.parametrize("case", _cases(), ids=lambda case: str(case["name"]))
def test_plan_and_groups_match_the_golden_vectors(case: dict[str, Any]) -> None:
    files = [LocalFile(Path(name), name, size) for name, size in case["files"]]
    chosen, fallback = apply_plans(files, case["plans"])
    expected = case["expected"]
    assert [f.name for f in chosen] == expected["files"]
    assert fallback is expected["fallback"]
    assert [[f.name for f in group] for group in group_files(chosen)] == expected["groups"]
