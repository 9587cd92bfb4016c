"""Human-typed codes in Crockford base32 (docs/security.md, Study keys and grants): generate,
normalise, format."""

import secrets
import unicodedata

from hds.crypto.errors import InvalidCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 16 symbols = 80 bits, the length decided for activation codes (docs/security.md, Brute-force
# arithmetic).
ACTIVATION_CODE_LENGTH = 16
ACCESS_CODE_LENGTH = 12  # 60 bits, safe only with the global failure budget of §3.13

_ALPHABET_SET = frozenset(ALPHABET)
# Crockford's decoding rules for the letters left out of the alphabet because they look like digits.
_LOOKALIKES = {"O": "0", "I": "1", "L": "1"}
# Room for separators and stray whitespace; anything longer is rejected before any work is done.
_MAX_INPUT_FACTOR = 4


def generate_code(length: int) -> str:
    """Return a fresh random code of ``length`` symbols drawn with ``secrets.choice``."""
    if length <= 0:
        raise ValueError("length must be positive")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize_code(text: str, length: int) -> str:
    """Return the canonical form of a typed code or raise ``InvalidCode``."""
    if length <= 0:
        raise ValueError("length must be positive")
    if len(text) > _MAX_INPUT_FACTOR * length + 16:
        raise InvalidCode
    symbols: list[str] = []
    for char in text:
        if char.isspace() or unicodedata.category(char) == "Pd":
            continue
        # Upper-casing non-ASCII could turn e.g. dotless i into "I"; refuse such input instead.
        if not char.isascii():
            raise InvalidCode
        upper = char.upper()
        upper = _LOOKALIKES.get(upper, upper)
        if upper not in _ALPHABET_SET:
            raise InvalidCode
        symbols.append(upper)
    if len(symbols) != length:
        raise InvalidCode
    return "".join(symbols)


def format_code(code: str, group: int = 4) -> str:
    """Return ``code`` split into dash-separated groups for display ("ABCD-EFGH-JKMN")."""
    if group <= 0:
        raise ValueError("group must be positive")
    return "-".join(code[i : i + group] for i in range(0, len(code), group))
