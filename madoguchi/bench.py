"""`make bench`: prints `BENCH <name> <value> <unit>` lines.

Runs on the embedded default (a fresh SQLite file under .bench/) unless DATABASE_URL is set.
Each installed app may have a `bench` module with `run(report)`; they run in INSTALLED_APPS order
and share one demo municipality (`demo()`).
"""

import functools
import importlib.util
import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"


def setup_django() -> None:
    BENCH_DIR.mkdir(exist_ok=True)
    db = BENCH_DIR / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    os.environ.setdefault("MADOGUCHI_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("MADOGUCHI_SITE_URL", "http://127.0.0.1:9")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.1f} {unit}", flush=True)


@functools.cache
def demo():
    """A municipality with a 1,000-resident synthetic replica and a clerk, created once per run."""
    from madoguchi.registry.synthetic import generate_replica
    from madoguchi.tenancy.models import Role, Staff
    from madoguchi.tenancy.onboarding import create_municipality

    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    generate_replica(municipality, count=1000)
    clerk = Staff.objects.create(username="bench-clerk", municipality=municipality, role=Role.CLERK)
    return municipality, clerk


def main() -> int:
    setup_django()
    from django.conf import settings

    for app in settings.INSTALLED_APPS:
        if app.startswith("madoguchi.") and importlib.util.find_spec(f"{app}.bench"):
            importlib.import_module(f"{app}.bench").run(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
