"""Test settings: the real settings module, on a throwaway data directory."""

import os
import tempfile

os.environ.setdefault("PACKYARD_DATA_DIR", tempfile.mkdtemp(prefix="packyard-test-"))
os.environ.setdefault("PACKYARD_SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("PACKYARD_EMAIL_URL", "console:")

from packyard.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Made by `packyard serve` and the command line; the tests' data dir is made above.
os.makedirs(FILE_UPLOAD_TEMP_DIR, exist_ok=True)  # noqa: F405
