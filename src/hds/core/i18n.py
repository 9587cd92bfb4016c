"""Compile the shipped ``.po`` catalogues to ``.mo`` (set-up step; needs no GNU gettext).

Run as ``python -m hds.core.i18n``. ``.mo`` files are build output and not committed.
"""

from __future__ import annotations

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def compile_all(root: Path = ROOT) -> list[Path]:
    """Compile every ``locale/*/LC_MESSAGES/*.po`` below ``root``; return the written files."""
    written = []
    for po_path in sorted(root.glob("**/locale/*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(f"compiled {path.relative_to(ROOT.parent)}")
