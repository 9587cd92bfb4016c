"""Test settings: the real settings with cheap Argon2, locmem mail and jobs run at commit."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HDS_DATA_DIR", tempfile.mkdtemp(prefix="hds-test-"))

from hds.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ARGON2_PASSWORD = "1024,1,1"  # noqa: S105 - Argon2 cost, not a password
JOBS_INLINE = True
LOGIN_POW_BITS = 8  # the browser solves the real difficulty; tests need no seconds of SHA-256
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A real file, so at-rest tests can read the bytes that a server would keep on disk.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
