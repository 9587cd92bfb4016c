"""Activation and access codes: alphabet, length, normalisation, CSPRNG use (docs/security.md,
Tests that prove it)."""

import secrets

import pytest

from hds.crypto import codes
from hds.crypto.codes import (
    ACCESS_CODE_LENGTH,
    ACTIVATION_CODE_LENGTH,
    ALPHABET,
    format_code,
    generate_code,
    normalize_code,
)
from hds.crypto.errors import InvalidCode


def test_constants() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)
    assert (ACTIVATION_CODE_LENGTH, ACCESS_CODE_LENGTH) == (16, 12)


@pytest.mark.parametrize("length", [ACCESS_CODE_LENGTH, ACTIVATION_CODE_LENGTH, 1])
def test_generated_codes_use_only_the_alphabet(length: int) -> None:
    generated = [generate_code(length) for _ in range(500)]
    assert all(len(code) == length for code in generated)
    assert set("".join(generated)) <= set(ALPHABET)
    assert len(set(generated)) == len(generated) or length == 1


def test_generator_covers_the_whole_alphabet() -> None:
    assert set("".join(generate_code(16) for _ in range(200))) == set(ALPHABET)


def test_generator_uses_secrets_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_choice(seq: str) -> str:
        calls.append(seq)
        return seq[-1]

    monkeypatch.setattr(secrets, "choice", fake_choice)
    assert codes.generate_code(12) == "Z" * 12
    assert calls == [ALPHABET] * 12


def test_generator_rejects_bad_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        generate_code(0)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ABCD-EFGH-JKMN", "ABCDEFGHJKMN"),
        ("abcd efgh jkmn", "ABCDEFGHJKMN"),
        ("  abcd\tefgh\njkmn  ", "ABCDEFGHJKMN"),
        ("OoIi-Ll01-2345", "001111012345"),
        ("ABCD\u2010EFGH\u2013JKMN", "ABCDEFGHJKMN"),  # typographic dashes from autocorrect
        ("ABCD--EFGH - JKMN", "ABCDEFGHJKMN"),
        ("ZZZZZZZZZZZZ", "ZZZZZZZZZZZZ"),
    ],
)
def test_normaliser_accepts(typed: str, expected: str) -> None:
    assert normalize_code(typed, ACCESS_CODE_LENGTH) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCD-EFGH-JKM",  # too short
        "ABCD-EFGH-JKMNP",  # too long
        "ABCD-EFGH-JKMU",  # U is not in Crockford's alphabet
        "ABCD_EFGH_JKMN",
        "ABCD.EFGH.JKMN",
        "ABCD+EFGH/JKMN",
        "ABCD-EFGH-JKM\u0131",  # dotless i upper-cases to I: refuse, do not guess
        "ABCD-EFGH-JKM\uff21",  # full-width A
        "ABCD-EFGH-JKM\x00",
        "-" * 10_000,
    ],
)
def test_normaliser_rejects(typed: str) -> None:
    with pytest.raises(InvalidCode) as info:
        normalize_code(typed, ACCESS_CODE_LENGTH)
    assert str(info.value) == "code is not well-formed"


def test_normaliser_round_trips_generated_codes() -> None:
    for _ in range(100):
        code = generate_code(ACTIVATION_CODE_LENGTH)
        assert normalize_code(format_code(code).lower(), ACTIVATION_CODE_LENGTH) == code


def test_format_code() -> None:
    assert format_code("ABCDEFGHJKMN") == "ABCD-EFGH-JKMN"
    assert format_code("0123456789ABCDEF") == "0123-4567-89AB-CDEF"
    assert format_code("ABCDEFGHJKMN", group=3) == "ABC-DEF-GHJ-KMN"
    assert format_code("ABCDE") == "ABCD-E"
    with pytest.raises(ValueError, match="positive"):
        format_code("ABCD", group=0)
