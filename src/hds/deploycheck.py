"""``hds check``: what a deployment has and what it lacks (docs/security.md, Production defaults).

Each finding is ``ok``, a warning, or a production blocker; the command exits 1 on a blocker when
the deployment runs (or is judged) as production. Nothing here prints a secret: only where each
secret comes from and the mode of the file that holds it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.conf import settings

Level = Literal["ok", "warn", "blocker"]


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    area: str
    level: Level
    text: str

    @property
    def label(self) -> str:
        """``ok``, ``WARN`` or ``BLOCKER``, as printed."""
        return {"ok": "ok", "warn": "WARN", "blocker": "BLOCKER"}[self.level]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _private(path: Path) -> bool:
    return _mode(path) & 0o077 == 0


SECRETS = ("HDS_SECRET_KEY", "HDS_PEPPER", "HDS_DIRECTORY_KEY")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_secrets() -> list[Finding]:
    """Where each server secret comes from, and whether its file is private and outside the
    data folder (a backup of the data folder must not carry the keys that open it)."""
    findings = []
    data_dir = Path(settings.DATA_DIR)
    for name in SECRETS:
        file_name = os.environ.get(f"{name}_FILE")
        if file_name:
            path = Path(file_name)
            if not path.exists():
                findings.append(Finding("secrets", "blocker", f"{name}_FILE names a missing file"))
                continue
            problems = []
            if not _private(path):
                problems.append(f"mode {_mode(path):04o} (must be 0600 or stricter)")
            if _inside(path, data_dir):
                problems.append("inside the data folder")
            if problems:
                findings.append(
                    Finding("secrets", "blocker", f"{name}_FILE: {', '.join(problems)}")
                )
            else:
                findings.append(
                    Finding("secrets", "ok", f"{name} from a private file outside the data folder")
                )
        elif os.environ.get(name):
            findings.append(
                Finding(
                    "secrets",
                    "warn",
                    f"{name} from the environment (a {name}_FILE from a secret store keeps it out "
                    "of process listings and crash reports)",
                )
            )
        else:
            path = data_dir / "secrets" / name.lower()
            level: Level = "blocker"
            text = f"{name} generated in the data folder ({path})"
            if path.exists() and not _private(path):
                text += f", mode {_mode(path):04o}"
            findings.append(Finding("secrets", level, text + ": set it outside for production"))
    return findings


def check_files() -> list[Finding]:
    """Modes of the data folder, the SQLite file and the mail files."""
    findings = []
    data_dir = Path(settings.DATA_DIR)
    if _private(data_dir):
        findings.append(Finding("files", "ok", f"data folder {data_dir} is 0700"))
    else:
        findings.append(
            Finding("files", "blocker", f"data folder {data_dir} has mode {_mode(data_dir):04o}")
        )
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        db_path = Path(str(database["NAME"]))
        findings.extend(
            Finding("files", "blocker", f"{path.name} has mode {_mode(path):04o}")
            for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"))
            if path.exists() and not _private(path)
        )
        findings.append(
            Finding("database", "warn", "SQLite (the embedded default; PostgreSQL for production)")
        )
    else:
        findings.append(Finding("database", "ok", "PostgreSQL"))
    mail_dir = getattr(settings, "EMAIL_FILE_PATH", None)
    if mail_dir and Path(mail_dir).is_dir():
        loose = [p.name for p in Path(mail_dir).iterdir() if p.is_file() and not _private(p)]
        if loose:
            findings.append(
                Finding("files", "blocker", f"{len(loose)} mail file(s) readable by others")
            )
    return findings


def check_mail() -> list[Finding]:
    """Whether mails (with reset and unlock links) go to their holders."""
    backend = str(settings.EMAIL_BACKEND)
    if backend.endswith("smtp.EmailBackend"):
        tls = settings.EMAIL_USE_TLS or settings.EMAIL_USE_SSL
        level: Level = "ok" if tls else "warn"
        return [
            Finding(
                "mail", level, f"SMTP via {settings.EMAIL_HOST}" + ("" if tls else " without TLS")
            )
        ]
    return [
        Finding(
            "mail",
            "blocker",
            "mails go to files and the console (EMAIL_URL=smtp://... for production)",
        )
    ]


def check_web() -> list[Finding]:
    """HTTPS, debug and the caches that several processes must share."""
    findings = []
    if settings.BASE_URL.startswith("https://"):
        findings.append(Finding("web", "ok", f"HTTPS base URL {settings.BASE_URL}"))
    else:
        findings.append(Finding("web", "blocker", f"base URL {settings.BASE_URL} is not HTTPS"))
    if settings.DEBUG:
        findings.append(Finding("web", "blocker", "HDS_DEBUG is on"))
    findings.append(Finding("counters", "ok", "throttle counters in the database (not evictable)"))
    epochs = str(settings.CACHES["epochs"]["BACKEND"])
    workers = int(os.environ.get("HDS_WEB_WORKERS", "1"))
    if epochs.endswith("LocMemCache") and workers > 1:
        findings.append(
            Finding(
                "sessions",
                "blocker",
                "HDS_WEB_WORKERS > 1 with epoch secrets in process memory: set "
                "HDS_EPOCH_CACHE_URL=redis://...",
            )
        )
    else:
        where = "Redis" if "redis" in epochs.lower() else "process memory (one web process)"
        findings.append(Finding("sessions", "ok", f"session epoch secrets in {where}"))
    return findings


def check_sandbox() -> list[Finding]:
    """The render workers' isolation layers, asked from a real worker: a missing layer is a
    warning; no filesystem or no network isolation at all blocks production."""
    from hds.archive.sandbox import missing_protections, sandbox_layers

    if settings.RENDER_WORKERS == 0:
        return [Finding("sandbox", "blocker", "HDS_RENDER_WORKERS=0: DICOM is decoded in-process")]
    layers = sandbox_layers()
    findings = []
    for layer in layers:
        level: Level = "ok" if layer.active else "warn"
        state = "active" if layer.active else "missing"
        detail = f" ({layer.detail})" if layer.detail else ""
        findings.append(Finding("sandbox", level, f"{layer.name}: {state}{detail}"))
    findings.extend(
        Finding("sandbox", "blocker", f"render workers lack {protection}")
        for protection in missing_protections(layers)
    )
    return findings


def run_checks(*, include_sandbox: bool = True) -> list[Finding]:
    """Every check, in the order they are printed."""
    findings = [*check_web(), *check_mail(), *check_secrets(), *check_files()]
    if include_sandbox:
        findings += check_sandbox()
    return findings
