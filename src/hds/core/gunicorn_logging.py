"""gunicorn's access log without secrets or DICOM UIDs in the logged path (docs/security.md,
Plaintext on the server).

``hds web`` runs gunicorn with ``--logger-class hds.core.gunicorn_logging.AccessLogger``; the
access log format logs the path only (``%(U)s``, no query string), and this class masks what
``hds.core.logging.mask_path`` masks in it: one-time link material and the study, series and
instance UIDs of DICOMweb URLs.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger
from typing_extensions import override

from hds.core.logging import mask_path


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger with masked request paths."""

    @override
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        """The format atoms, with the path (and the request line) masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            if isinstance(atoms.get(key), str):
                atoms[key] = mask_path(atoms[key])
        return atoms
