"""The periodic sweep's registry: each app contributes its own chores in `AppConfig.ready()`.

`manage.py housekeeping` runs every registered chore in registration order and prints what each
did, so the command needs no knowledge of the apps (and imports none of them).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Chore:
    # How the command reports the chore's count, e.g. "expired {n} requests".
    report: str
    run: Callable[[], int | None]


_chores: dict[str, Chore] = {}


def register(name: str, report: str, run: Callable[[], int | None]) -> None:
    """Register (or replace, so that `ready()` may run twice) the chore called `name`."""
    _chores[name] = Chore(report, run)


def chores() -> list[Chore]:
    return list(_chores.values())
