"""KDF known answers (RFC 5869 and pinned Argon2id+pepper outputs) and parameter handling."""

import pytest

from hds.crypto.kdf import (
    CODE_PARAMS,
    PASSWORD_PARAMS,
    Argon2Params,
    hkdf,
    hkdf_expand,
    random_bytes,
    stretch,
)

FAST = Argon2Params(memory_kib=1024, iterations=1, lanes=1)
SALT = bytes(range(16))
PEPPER = bytes([0x42]) * 32
SECRET = b"correct horse battery staple"

# RFC 5869 Appendix A.1 (test case 1, SHA-256).
RFC5869_IKM = bytes([0x0B]) * 22
RFC5869_SALT = bytes(range(13))
RFC5869_INFO = bytes(range(0xF0, 0xFA))
RFC5869_PRK = bytes.fromhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
RFC5869_OKM = bytes.fromhex(
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
)

# Argon2id(SECRET, SALT, m=1024 KiB, t=1, p=1) then HKDF-Extract with zeros / PEPPER as salt.
STRETCH_NO_PEPPER = "aab5979ac1c4ad1b16fa564fb43330aab183d08b95a47438247430ef81ceda79"
STRETCH_PEPPER = "0999f9044633b759fc28caace0eaef1b03144d3018221655aeffef3f59de1b73"


def test_production_parameters() -> None:
    assert CODE_PARAMS.to_dict() == {"memory_kib": 19456, "iterations": 2, "lanes": 1}
    assert PASSWORD_PARAMS.to_dict() == {"memory_kib": 65536, "iterations": 3, "lanes": 4}


def test_production_password_parameters_run() -> None:
    assert len(stretch(SECRET, SALT, PASSWORD_PARAMS, PEPPER)) == 32


def test_hkdf_rfc5869_vector() -> None:
    okm = hkdf(RFC5869_IKM, salt=RFC5869_SALT, info=RFC5869_INFO, length=42)
    assert okm == RFC5869_OKM
    assert hkdf_expand(RFC5869_PRK, RFC5869_INFO, 42) == RFC5869_OKM


def test_hkdf_without_salt_equals_zero_salt() -> None:
    assert hkdf(b"k" * 32, salt=None, info=b"x") == hkdf(b"k" * 32, salt=bytes(32), info=b"x")


def test_hkdf_expand_rejects_short_prk() -> None:
    with pytest.raises(ValueError, match="PRK"):
        hkdf_expand(b"short", b"info")


def test_stretch_known_answers() -> None:
    assert stretch(SECRET, SALT, FAST, None).hex() == STRETCH_NO_PEPPER
    assert stretch(SECRET, SALT, FAST, PEPPER).hex() == STRETCH_PEPPER


def test_stretch_pepper_changes_the_prk() -> None:
    # No pepper means HKDF-Extract with 32 zero bytes as salt.
    unpeppered = stretch(SECRET, SALT, FAST, None)
    other = stretch(SECRET, SALT, FAST, bytes(32))
    assert unpeppered == other
    assert stretch(SECRET, SALT, FAST, PEPPER) != unpeppered
    assert stretch(SECRET, SALT, FAST, bytes([0x43]) * 32) != stretch(SECRET, SALT, FAST, PEPPER)


def test_stretch_depends_on_every_input() -> None:
    base = stretch(SECRET, SALT, FAST, PEPPER)
    assert stretch(SECRET + b"!", SALT, FAST, PEPPER) != base
    assert stretch(SECRET, bytes(16), FAST, PEPPER) != base
    assert stretch(SECRET, SALT, Argon2Params(1024, 2, 1), PEPPER) != base
    assert stretch(SECRET, SALT, Argon2Params(2048, 1, 1), PEPPER) != base


@pytest.mark.parametrize("pepper", [b"", b"short", bytes(31)])
def test_stretch_refuses_short_pepper(pepper: bytes) -> None:
    # An empty pepper would silently equal "no pepper".
    with pytest.raises(ValueError, match="pepper"):
        stretch(SECRET, SALT, FAST, pepper)


def test_stretch_refuses_short_salt() -> None:
    with pytest.raises(ValueError, match="salt"):
        stretch(SECRET, b"1234567", FAST, None)


def test_params_round_trip() -> None:
    params = Argon2Params(memory_kib=4096, iterations=2, lanes=2)
    assert Argon2Params.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    "data",
    [
        {"memory_kib": 4096, "iterations": 2},
        {"memory_kib": 4096, "iterations": 2, "lanes": 1, "extra": 1},
        {"memory_kib": 4096, "iterations": 0, "lanes": 1},
        {"memory_kib": 4, "iterations": 1, "lanes": 1},
        {"memory_kib": 1 << 30, "iterations": 1, "lanes": 1},
        {"memory_kib": 4096, "iterations": 1, "lanes": 0},
    ],
)
def test_params_reject_bad_dicts(data: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="Argon2"):
        Argon2Params.from_dict(data)


def test_params_reject_non_int() -> None:
    with pytest.raises(TypeError):
        Argon2Params(memory_kib=True, iterations=1, lanes=1)
    with pytest.raises(TypeError):
        Argon2Params.from_dict({"memory_kib": "4096", "iterations": 1, "lanes": 1})  # type: ignore[dict-item]


def test_random_bytes() -> None:
    assert len(random_bytes(32)) == 32
    assert random_bytes(32) != random_bytes(32)
    assert random_bytes(0) == b""
    with pytest.raises(ValueError, match="negative"):
        random_bytes(-1)
