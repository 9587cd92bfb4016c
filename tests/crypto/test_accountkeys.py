"""Account key derivation from the AMS, known answers and fingerprints (docs/security.md, Keys and
wraps)."""

import hashlib

from hds.crypto.accountkeys import (
    AccountKeyPair,
    activation_kek,
    derive_account_keys,
    key_fingerprint,
    new_master_secret,
    password_material,
)
from hds.crypto.kdf import Argon2Params
from hds.crypto.signing import public_bytes, sign, verify

FAST = Argon2Params(memory_kib=1024, iterations=1, lanes=1)
AMS = bytes(range(32))
SALT = bytes(range(16))
PEPPER = bytes([0x42]) * 32

KAT_X25519_PUBLIC = "9f704a1e810b7bd2aab76189cba9dbd136308047f80c94cc50b451cedce5f473"
KAT_ED25519_PUBLIC = "99fcb4ceb55d9f62990b1e881667a4ecb85d5db7bb03716fb089f1ee4372e82c"
KAT_FINGERPRINT = "73e4 8afb ef5e d382 e720 b85b 9259 8140"
KAT_PW_VERIFIER = "6563cc8ac92e6883edf3bdac3e07ece380816b7ee0ef961385c9163aa0a03682"
KAT_PW_KEK = "15117492c2ada811301c58121e42fa16447eb146733e48854362eb41186cc344"
KAT_AC_KEK = "0f6624961cec554ccf11c4f4b58b7a4e0b163b273501f4595959d4d2a3e87671"


def test_derive_account_keys_known_answer() -> None:
    keys = derive_account_keys(AMS)
    assert keys.x25519_public.hex() == KAT_X25519_PUBLIC
    assert keys.ed25519_public.hex() == KAT_ED25519_PUBLIC
    assert public_bytes(keys.ed25519_private) == keys.ed25519_public


def test_derive_account_keys_is_deterministic_and_separated() -> None:
    ams = new_master_secret()
    first, second = derive_account_keys(ams), derive_account_keys(ams)
    assert first == second
    assert first.x25519_public != first.ed25519_public
    other = derive_account_keys(new_master_secret())
    assert other.x25519_public != first.x25519_public
    assert other.ed25519_public != first.ed25519_public


def test_account_signing_key_signs() -> None:
    keys = derive_account_keys(AMS)
    assert verify(keys.ed25519_public, b"msg", sign(keys.ed25519_private, b"msg"))


def test_repr_hides_private_keys() -> None:
    text = repr(derive_account_keys(AMS))
    assert "private" not in text
    assert AccountKeyPair.__name__ in text


def test_new_master_secret() -> None:
    secrets = {new_master_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(s) == 32 for s in secrets)


def test_password_material_known_answer() -> None:
    material = password_material("correct horse battery staple", SALT, FAST, PEPPER)
    assert material.verifier.hex() == KAT_PW_VERIFIER
    assert material.kek.hex() == KAT_PW_KEK


def test_activation_kek_known_answer() -> None:
    assert activation_kek("0123456789ABCDEF", SALT, FAST).hex() == KAT_AC_KEK


def test_key_fingerprint() -> None:
    public = bytes.fromhex(KAT_X25519_PUBLIC)
    fingerprint = key_fingerprint(public)
    assert fingerprint == KAT_FINGERPRINT
    assert fingerprint.replace(" ", "") == hashlib.sha256(public).hexdigest()[:32]
