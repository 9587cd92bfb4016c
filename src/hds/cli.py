"""The one ``hds`` command for operators (docs/design.md, Command line).

``hds run`` starts the embedded default (web + worker in one process group); ``hds web`` and
``hds worker`` run one process each; ``hds account create`` and ``hds demo`` provision; ``hds
manage`` passes through to Django's management commands. ``hds upload`` is a client: it talks to a
server over HTTPS (``hds.client``) and needs no settings.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEMO_PASSWORDS = {
    "radiology": "demo-radiology-Quartz-Lantern",
    "doctor": "demo-doctor-Maple-Compass",
    "patient": "demo-patient-Harbor-Violet",
}


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hds.settings")
    import django
    from django.conf import settings
    from django.utils import translation

    django.setup()
    translation.activate(settings.LANGUAGE_CODE)  # HDS_LANGUAGE for the operator's messages


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def _setup_database() -> None:
    """Django set up, and the database brought up to date (a fresh data folder gets its tables
    here instead of "no such table" later)."""
    _setup_django()
    _migrate_if_needed()


def _migrate_if_needed() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("database: applying migrations", file=sys.stderr)
        _migrate()


def cmd_manage(args: argparse.Namespace, rest: list[str]) -> int:
    """Run a Django management command."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hds.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["hds manage", *rest])
    return 0


def _web_environment() -> None:
    """Environment for the web process, set before it starts (glibc reads it at start-up).

    Large freed blocks (upload bodies, decoded frames) go back to the system at once instead of
    staying in the threads' malloc arenas, so the upload budget also bounds resident memory
    (docs/security.md, Upload memory and spool).
    """
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "1048576")


def _gunicorn_argv(port: int, threads: int) -> list[str]:
    # One process with threads: the embedded default keeps session epoch secrets in this
    # process's memory (docs/security.md, Sessions). Scale out with HDS_EPOCH_CACHE_URL=redis://...
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "hds.wsgi:application",
        "--bind",
        f"{os.environ.get('HDS_BIND', '127.0.0.1')}:{port}",
        "--workers",
        os.environ.get("HDS_WEB_WORKERS", "1"),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "300",
        "--access-logfile",
        "-",
        "--logger-class",
        "hds.core.gunicorn_logging.AccessLogger",
        "--access-logformat",
        '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',  # path only: no query strings in logs
    ]


def cmd_web(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the web process (gunicorn) in the foreground."""
    _setup_django()
    from django.conf import settings

    from hds.archive.renderpool import require_render_isolation

    require_render_isolation()  # production: refuse render workers without isolation

    if not args.no_migrate:
        _migrate()
    argv = _gunicorn_argv(args.port or settings.HTTP_PORT, settings.WEB_THREADS)
    _web_environment()
    os.execv(sys.executable, argv)  # noqa: S606 - fixed argv, no shell


def cmd_worker(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the job worker in the foreground until SIGTERM/SIGINT."""
    _setup_django()
    from hds.archive.renderpool import require_render_isolation
    from hds.core.jobs import run_pending, work_forever

    require_render_isolation()  # production: refuse render workers without isolation
    _migrate_if_needed()

    if args.once:
        from hds.core.jobs import import_job_modules, schedule_periodic

        import_job_modules()
        schedule_periodic()
        print(f"ran {run_pending()} jobs")
        return 0
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    work_forever(stop=lambda: stopping)
    return 0


def cmd_run(args: argparse.Namespace, rest: list[str]) -> int:
    """The embedded default: migrate, then web + worker as one process group."""
    _setup_django()
    from django.conf import settings

    from hds.archive.renderpool import require_render_isolation

    require_render_isolation()  # production: refuse render workers without isolation

    _migrate()
    port = args.port or settings.HTTP_PORT
    _web_environment()
    env = dict(os.environ)
    procs = [
        subprocess.Popen(_gunicorn_argv(port, settings.WEB_THREADS), env=env),
        subprocess.Popen([sys.executable, "-m", "hds.cli", "worker"], env=env),
    ]
    print(f"HDS is running at {settings.BASE_URL} (port {port}); press Ctrl+C to stop.", flush=True)
    print(f"Data folder: {settings.DATA_DIR}; mails are written to {settings.DATA_DIR}/mail/")

    def _stop(*_: Any) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    finally:
        _stop()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return max((proc.returncode or 0) for proc in procs)


def _read_password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        import getpass

        return getpass.getpass("Password: ")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise SystemExit("error: no password on standard input")
    return password


def cmd_account_create(args: argparse.Namespace, rest: list[str]) -> int:
    """Create an active account with its keys; print its activation code once."""
    _setup_database()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from hds.accounts.models import Account
    from hds.accounts.services import create_account
    from hds.core.errors import DomainError
    from hds.crypto.codes import format_code

    password = _read_password(args)
    try:
        validate_password(password, user=Account(email=args.email))
    except ValidationError as exc:
        print("error: " + " ".join(exc.messages), file=sys.stderr)
        return 2
    profile: dict[str, Any] = {}
    if args.role == "patient":
        profile = {"gender": args.gender, "birth_date": args.birth_date}
    else:
        profile = {
            "first_name": args.first_name or "",
            "last_name": args.last_name or "",
            "practice_kind": args.practice_kind,
            "practice_name": args.practice_name or "",
            "city": args.city or "",
        }
    try:
        new = create_account(
            email=args.email,
            password=password,
            role=args.role,
            language=args.language,
            profile=profile,
            activated=not args.inactive,
        )
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {new.account.role} account {new.account.email}")
    print(f"activation code (shown once, keep it safe): {format_code(new.activation_code)}")
    return 0


def cmd_token_create(args: argparse.Namespace, rest: list[str]) -> int:
    """Create a personal API token for an account (needs its password); print it once."""
    _setup_database()
    from hds.accounts.apitokens import create_token, valid_days
    from hds.accounts.models import Account
    from hds.accounts.services import LoginFailed, unlock_master_secret

    password = _read_password(args)
    account = Account.objects.filter(email=args.email.strip().lower()).first()
    try:
        if account is None:
            raise LoginFailed("unknown")
        ams = unlock_master_secret(account, password)
    except LoginFailed:
        print("error: e-mail address or password is not correct", file=sys.stderr)
        return 2
    try:
        days = valid_days(args.days)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    new = create_token(account, ams, name=args.name, days=days)
    print(
        f"token for {account.email}, expires {new.token.expires_at:%Y-%m-%d} "
        "(shown once; use as 'Authorization: Bearer ...'):"
    )
    print(new.text)
    return 0


def cmd_token_list(args: argparse.Namespace, rest: list[str]) -> int:
    """List an account's API tokens: id, name, created, expires, last used."""
    _setup_database()
    from hds.accounts.models import Account

    account = Account.objects.filter(email=args.email.strip().lower()).first()
    if account is None:
        print("error: no account with this e-mail address", file=sys.stderr)
        return 2
    tokens = account.api_tokens.order_by("created_at")
    if not tokens:
        print(f"no tokens for {account.email}")
    for token in tokens:
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        state = "expired" if token.is_expired else "expires"
        print(
            f"{token.pk}  {token.name!r}  created {token.created_at:%Y-%m-%d}  "
            f"{state} {token.expires_at:%Y-%m-%d}  last used {used}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace, rest: list[str]) -> int:
    """Revoke one API token of an account (--id), or all of them (--all)."""
    _setup_database()
    from hds.accounts.apitokens import revoke_all, revoke_token
    from hds.accounts.models import Account

    account = Account.objects.filter(email=args.email.strip().lower()).first()
    if account is None:
        print("error: no account with this e-mail address", file=sys.stderr)
        return 2
    if args.all:
        print(f"revoked {revoke_all(account)} tokens of {account.email}")
        return 0
    if not args.id or not revoke_token(account, args.id):
        print("error: this account has no token with this id", file=sys.stderr)
        return 2
    print(f"revoked token {args.id} of {account.email}")
    return 0


def cmd_check(args: argparse.Namespace, rest: list[str]) -> int:
    """Print what this deployment has and lacks; exit 1 on a production blocker."""
    _setup_django()
    from hds.deploycheck import run_checks

    findings = run_checks(include_sandbox=not args.skip_sandbox)
    production = args.production or _production_setting()
    for finding in findings:
        print(f"[{finding.label:>7}] {finding.area}: {finding.text}")
    blockers = sum(finding.level == "blocker" for finding in findings)
    if production and blockers:
        print(f"{blockers} production blocker(s): fix them before going live", file=sys.stderr)
        return 1
    if blockers:
        print(f"{blockers} item(s) would block a production deployment (HDS_PRODUCTION=1)")
    return 0


def _production_setting() -> bool:
    from django.conf import settings

    return bool(settings.PRODUCTION)


def cmd_upload(args: argparse.Namespace, rest: list[str]) -> int:
    """Upload files and folders (patient CDs) to an HDS server with a personal API token."""
    from hds.client import upload_command  # no Django: this runs on the user's machine

    return upload_command(
        server=args.server, paths=args.paths, token_stdin=args.token_stdin, study=args.study
    )


def cmd_demo(args: argparse.Namespace, rest: list[str]) -> int:
    """Seed the demo radiology, doctor and patient (idempotent) and print their logins."""
    _setup_django()
    import datetime

    from hds.accounts.models import Account
    from hds.accounts.services import create_account

    _migrate()
    people: list[tuple[str, str, dict[str, Any]]] = [
        (
            "radiology",
            "radiology@demo.hds.local",
            {
                "role": "professional",
                "profile": {
                    "title": "Dr.",
                    "first_name": "Rita",
                    "last_name": "Röntgen",
                    "practice_kind": "radiology",
                    "practice_name": "Demo Radiologie am Markt",
                    "specialty": "Radiology",
                    "street": "Marktplatz 1",
                    "postal_code": "90402",
                    "city": "Nürnberg",
                },
            },
        ),
        (
            "doctor",
            "doctor@demo.hds.local",
            {
                "role": "professional",
                "profile": {
                    "title": "Dr.",
                    "first_name": "Hans",
                    "last_name": "Hausarzt",
                    "practice_kind": "practice",
                    "practice_name": "Praxis Dr. Hausarzt",
                    "specialty": "General medicine",
                    "street": "Hauptstraße 5",
                    "postal_code": "90403",
                    "city": "Nürnberg",
                },
            },
        ),
        (
            "patient",
            "patient@demo.hds.local",
            {
                "role": "patient",
                "profile": {"gender": "female", "birth_date": datetime.date(1956, 4, 1)},
            },
        ),
    ]
    from hds.accounts.services import unlock_master_secret
    from hds.archive.demo import seed_demo_images

    rows = []
    for key, email, spec in people:
        if Account.objects.filter(email=email).exists():
            rows.append((key, email, DEMO_PASSWORDS[key], "(exists)", "-"))
            continue
        new = create_account(
            email=email,
            password=DEMO_PASSWORDS[key],
            role=spec["role"],
            language="de" if key != "doctor" else "en",
            profile=spec["profile"],
            activated=True,
        )
        from hds.crypto.codes import format_code

        ams = unlock_master_secret(new.account, DEMO_PASSWORDS[key])
        stored = [r for r in seed_demo_images(new.account, ams, key) if r.status == "stored"]
        rows.append(
            (key, email, DEMO_PASSWORDS[key], format_code(new.activation_code), str(len(stored)))
        )
    from rich.console import Console
    from rich.table import Table

    table = Table(title="HDS demo logins")
    for column in ("who", "e-mail", "password", "activation code", "files"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, Console().width)).print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hds``."""
    parser = argparse.ArgumentParser(prog="hds", description="HDS: encrypted imaging network")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="embedded default: migrate, web + worker")
    run.add_argument("--port", type=int, default=None)
    run.set_defaults(func=cmd_run)

    web = sub.add_parser("web", help="the web process only (gunicorn)")
    web.add_argument("--port", type=int, default=None)
    web.add_argument("--no-migrate", action="store_true")
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="the job worker only")
    worker.add_argument("--once", action="store_true", help="run due jobs once and exit")
    worker.set_defaults(func=cmd_worker)

    demo = sub.add_parser("demo", help="seed the demo radiology, doctor and patient")
    demo.set_defaults(func=cmd_demo)

    manage = sub.add_parser("manage", help="Django management commands", add_help=False)
    manage.set_defaults(func=cmd_manage)

    account = sub.add_parser("account", help="accounts").add_subparsers(
        dest="account_command", required=True
    )
    create = account.add_parser("create", help="create an active account; prints its code")
    create.add_argument("--email", required=True)
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--role", required=True, choices=["patient", "professional"])
    create.add_argument("--language", default="en", choices=["en", "de"])
    create.add_argument("--inactive", action="store_true", help="leave it to activate by mail")
    create.add_argument(
        "--gender", default="unknown", choices=["female", "male", "diverse", "unknown"]
    )
    create.add_argument("--birth-date", type=_date, default=None)
    create.add_argument("--first-name")
    create.add_argument("--last-name")
    create.add_argument(
        "--practice-kind",
        default="practice",
        choices=["radiology", "practice", "hospital", "other"],
    )
    create.add_argument("--practice-name")
    create.add_argument("--city")
    create.set_defaults(func=cmd_account_create)

    _add_token_parsers(sub)
    _add_check_parser(sub)

    upload = sub.add_parser(
        "upload",
        help="upload files and folders (e.g. a patient CD) to an HDS server",
        description="Upload DICOM files and PDF findings to an HDS server with a personal API "
        "token (from --token-stdin or HDS_TOKEN). Folders are walked recursively; on a CD only "
        "the files its DICOMDIR lists are sent. Exit code: 0 all stored or already there, "
        "1 some files failed, 2 usage, token or connection problem.",
    )
    upload.add_argument("--server", required=True, help="the server's address, https://...")
    upload.add_argument(
        "--token-stdin", action="store_true", help="read the API token from standard input"
    )
    upload.add_argument(
        "--study", type=_uuid, default=None, help="attach the PDFs to this study of yours (id)"
    )
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    upload.set_defaults(func=cmd_upload)
    return parser


def _add_token_parsers(sub: Any) -> None:
    token = sub.add_parser("token", help="personal API tokens").add_subparsers(
        dest="token_command", required=True
    )
    token_create = token.add_parser("create", help="create a token; prints it once")
    token_create.add_argument("--email", required=True)
    token_create.add_argument("--password-stdin", action="store_true")
    token_create.add_argument("--name", default="hds token create")
    token_create.add_argument(
        "--days", type=int, default=90, help="lifetime in days (default 90, at most 365)"
    )
    token_create.set_defaults(func=cmd_token_create)
    token_list = token.add_parser("list", help="list an account's tokens")
    token_list.add_argument("--email", required=True)
    token_list.set_defaults(func=cmd_token_list)
    token_revoke = token.add_parser("revoke", help="revoke a token (--id) or all (--all)")
    token_revoke.add_argument("--email", required=True)
    which = token_revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=_uuid, help="the token's id (from 'hds token list')")
    which.add_argument("--all", action="store_true", help="every token of the account")
    token_revoke.set_defaults(func=cmd_token_revoke)


def _add_check_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="what this deployment has and lacks (sandbox, mail, secrets, modes, HTTPS)",
        description="Prints each check as ok, WARN or BLOCKER. Exit code 1 when a production "
        "blocker is found and HDS_PRODUCTION is on (or --production is given), else 0.",
    )
    check.add_argument(
        "--production", action="store_true", help="judge as production even without it on"
    )
    check.add_argument(
        "--skip-sandbox", action="store_true", help="do not start a render worker to probe it"
    )
    check.set_defaults(func=cmd_check)


def _date(text: str) -> Any:
    import datetime

    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD") from None


def _uuid(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError("use an id as printed, a UUID") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hds`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything hds writes (SQLite file, generated secrets, mails, blobs) is for its owner only.
    os.umask(0o077)
    if argv[:1] == ["manage"]:
        return cmd_manage(argparse.Namespace(), argv[1:])
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    from django.core.exceptions import ImproperlyConfigured

    try:
        return int(args.func(args, rest) or 0)
    except ImproperlyConfigured as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
