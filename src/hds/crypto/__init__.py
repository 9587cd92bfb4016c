"""HDS cryptography (docs/security.md, Key hierarchy): the only package that imports
cryptography.hazmat.

Nothing here imports Django; callers pass bytes in and get bytes (or ``InvalidCiphertext``) out.
"""
