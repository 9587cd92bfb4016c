"""The import rules between layers (docs/architecture.md), checked on the source with ``ast``.

- ``hds.crypto`` imports no Django and nothing of ``hds`` but itself.
- ``hds.dicom`` imports no Django and nothing of ``hds`` but itself and ``hds.crypto``; beyond
  the standard library only pydicom, numpy, Pillow (JPEG output) and the decoder plugins.
- ``hds.archive`` never imports ``hds.dicomweb`` or ``hds.viewer`` (they build on it).

Every import counts, also the ones inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "hds"

# Third-party packages hds.dicom may import besides the standard library.
DICOM_THIRD_PARTY = frozenset({"pydicom", "numpy", "PIL", "pylibjpeg", "typing_extensions"})


def imports_of(path: Path, package: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in one file of ``package`` (by default
    the package its place under ``src/hds`` says)."""
    package = package or ".".join(("hds", *path.relative_to(SRC).parent.parts))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module


def violations(package: str, allowed: set[str], third_party: frozenset[str] | None) -> list[str]:
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for line, module in imports_of(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(SRC.parent)}:{line}: {module}"
            if top == "django":
                found.append(where)
            elif top == "hds":
                layer = module.split(".")[1] if "." in module else ""
                if layer not in allowed:
                    found.append(where)
            elif third_party is not None and top not in (sys.stdlib_module_names | third_party):
                found.append(where)
    return found


def test_import_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    path = tmp_path / "example.py"
    path.write_text(
        "import django.db\n"
        "from hds.archive import x\n"
        "def f():\n"
        "    from .frames import y\n"
        "    from .. import archive\n",
        encoding="utf-8",
    )
    found = sorted(module for _, module in imports_of(path, "hds.dicom"))
    assert found == ["django.db", "hds", "hds.archive", "hds.dicom.frames"]


def test_crypto_imports_no_django_and_nothing_above_it() -> None:
    assert violations("crypto", {"crypto"}, None) == []


def test_dicom_imports_no_django_and_nothing_above_it() -> None:
    assert violations("dicom", {"dicom", "crypto"}, DICOM_THIRD_PARTY) == []


def test_archive_never_imports_dicomweb_or_viewer() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{line}: {module}"
        for path in sorted((SRC / "archive").rglob("*.py"))
        for line, module in imports_of(path)
        if module.split(".")[:2] in (["hds", "dicomweb"], ["hds", "viewer"])
    ]
    assert found == []


def test_reads_never_import_writes() -> None:
    """Reading and showing the archive imports nothing that changes it."""
    readers = ["reads.py", "selectors.py", "display.py", "itemrecords.py"]
    found = [
        f"archive/{name}:{line}: {module}"
        for name in readers
        for line, module in imports_of(SRC / "archive" / name)
        if module == "hds.archive.services"
    ]
    assert found == []
