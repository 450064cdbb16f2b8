"""Settings for the test suite: the production settings with test defaults in the environment."""

import os
import tempfile

os.environ.setdefault("MADOGUCHI_TESTING", "1")
os.environ.setdefault("MADOGUCHI_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Port 9 (discard) refuses at once: the sandbox gateway's HTTP notifications fail fast in unit tests,
# which then exercise the return-and-status-query path; browser tests point it at the live server.
os.environ.setdefault("MADOGUCHI_SITE_URL", "http://127.0.0.1:9")

# One sandbox document CA per machine and user for the test runs (created on first use, shared by
# the xdist workers); the tests start the sandbox TSA themselves (tests/conftest.py).
os.environ.setdefault("MADOGUCHI_DOCUMENT_CA_DIR",
                      os.path.join(tempfile.gettempdir(), f"madoguchi-test-document-ca-{os.getuid()}"))

# Each xdist worker its own Redis database (1-7; 0 is the default, the soak takes 8): the queue tests
# empty and inspect the queues, and two workers sharing the keys took each other's jobs.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
os.environ.setdefault("MADOGUCHI_REDIS_URL", f"redis://127.0.0.1:6379/{1 + int(_worker or 0) % 7}")

from madoguchi.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
