"""`make bench`: prints `BENCH <name> <value> <unit>` lines.

Each module of this package (one per concern: identity, applications, payments, documents, line, …)
has `run(report)`; they run in alphabetical order, or only those named (`make bench ONLY=documents`).
The package sits on top of every layer, next to the demo, so a benchmark may drive any of them.
On the embedded default each module runs in a process of its own with a fresh SQLite file under
.bench/, so what one benchmark leaves behind (a 100,000-serial CRL, a thousand requests, a warm
heap) does not weigh on the next. With DATABASE_URL set they run in one process on that database.
`demo()` gives a module its demo municipality.
"""

import functools
import importlib
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent.parent / ".bench"


def setup_django(name: str = "bench") -> None:
    BENCH_DIR.mkdir(exist_ok=True)
    db = BENCH_DIR / f"{name}.sqlite3"
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
def local_tsa() -> str:
    """The sandbox RFC 3161 timestamp authority on a loopback port for this run (the bench's site URL
    answers nothing), set as the documents' TSA: printing signs PAdES B-T with its timestamps."""
    from django.conf import settings

    from madoguchi.documents.tsa import serve

    server = serve("127.0.0.1", 0)
    settings.DOCUMENT_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    return settings.DOCUMENT_TSA_URL


@functools.cache
def demo():
    """A municipality with a 1,000-resident synthetic replica and a clerk, created once per run, with
    the local timestamp authority the printing step needs."""
    from madoguchi.demo.synthetic import generate_replica
    from madoguchi.operations.onboarding import create_municipality
    from madoguchi.tenancy.models import Role, Staff

    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    generate_replica(municipality, count=1000)
    clerk = Staff.objects.create(username="bench-clerk", municipality=municipality, role=Role.CLERK)
    local_tsa()
    return municipality, clerk


def awaiting_payment(municipality, resident):
    """A 住民票 request drafted, signed with the resident's sandbox card and sent to the gateway."""
    from madoguchi.applications import actions
    from madoguchi.applications.signing_terms import canonical_bytes
    from madoguchi.identity.contrib.sandbox import card as cards

    request = actions.create_draft(
        municipality, certificate_type="residence_certificate", copies=1, purpose="bank", purpose_detail="",
        options={"scope": "self", "members": "", "show_relationship": True, "show_honseki": False},
        postage_class="regular", notice_email="resident@example.jp")
    challenge = actions.start_signing(request, return_url="/pay/", retry_url="/sign/")
    certificate, signature = cards.sign(resident.sandbox_card, cards.DEMO_PIN,
                                        canonical_bytes(request, challenge.nonce))
    actions.record_signature(request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                             provider="sandbox")
    actions.start_payment(request, "/done/")
    return request


# Run only when named: the soak is `make soak` (minutes of load with process kills), not part of the
# whole `make bench`, which stays within its time budget.
ON_REQUEST = {"soak"}


def bench_modules(only: list[str] | None = None) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))
    unknown = set(only or ()) - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmark module(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return [f"madoguchi.bench.{name}" for name in names if (name in only if only else name not in ON_REQUEST)]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--module":  # one module, in this process
        setup_django(argv[1].replace(".", "_"))
        importlib.import_module(argv[1]).run(report)
        return 0
    modules = bench_modules(argv)
    if "DATABASE_URL" in os.environ:
        setup_django()
        for module in modules:
            importlib.import_module(module).run(report)
        return 0
    failed = [m for m in modules if subprocess.run([sys.executable, "-m", "madoguchi.bench", "--module", m]).returncode]
    return 1 if failed else 0
