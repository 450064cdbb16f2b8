"""Which provider credentials a municipality needs, contributed by the apps that use them.

The service operator enters the values (`manage.py secrets set`, `tenancy.vault`); a manager sees
only whether each is set, and, where the provider has a harmless call, whether it works. An app
registers in its `ready()`:

    credentials.register("line", gettext_lazy("LINE公式アカウント"), lambda m: ["LINE_CHANNEL_SECRET", ...],
                         test=check_line)

`names(municipality)` lists the secret names needed (none: nothing to enter, e.g. the sandbox);
`test(municipality)` returns "" when the call succeeded, else a short reason.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .models import Municipality, MunicipalitySecret


@dataclass(frozen=True)
class Requirement:
    key: str
    label: str
    names: Callable[[Municipality], list[str]]
    test: Callable[[Municipality], str] | None = None


_requirements: dict[str, Requirement] = {}


def register(key: str, label, names: Callable[[Municipality], list[str]],
             test: Callable[[Municipality], str] | None = None) -> None:
    _requirements[key] = Requirement(key, label, names, test)


def requirements() -> list[Requirement]:
    return list(_requirements.values())


def requirement(key: str) -> Requirement | None:
    return _requirements.get(key)


@dataclass(frozen=True)
class Status:
    requirement: Requirement
    names: list[tuple[str, bool]]  # (secret name, set?)

    @property
    def complete(self) -> bool:
        return all(is_set for _name, is_set in self.names)


def status(municipality: Municipality) -> list[Status]:
    stored = set(MunicipalitySecret.objects.for_municipality(municipality).values_list("name", flat=True))
    return [Status(r, [(name, name in stored) for name in r.names(municipality)]) for r in requirements()]
