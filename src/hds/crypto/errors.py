"""Exceptions raised by hds.crypto; messages are generic and never carry data or key material."""


class CryptoError(Exception):
    """Base class of every error raised by hds.crypto."""


class InvalidCiphertext(CryptoError):
    """A ciphertext, wrap, grant or header failed authentication or does not fit its binding."""

    def __init__(self, message: str = "ciphertext rejected") -> None:
        super().__init__(message)


class InvalidCode(CryptoError):
    """A typed activation or access code cannot be normalised to a well-formed code."""

    def __init__(self, message: str = "code is not well-formed") -> None:
        super().__init__(message)
