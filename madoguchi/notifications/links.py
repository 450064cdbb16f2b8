"""Links in notices to a resident's page (the survey, the correction page), contributed by the
channel that serves the page: notices never name a channel's URL (docs/architecture.md)."""

from collections.abc import Callable

from madoguchi.applications.models import CertificateRequest

_builders: dict[str, Callable[[CertificateRequest], str]] = {}


def register(kind: str, builder: Callable[[CertificateRequest], str]) -> None:
    """`builder(request)` returns the absolute URL of the page for notices of `kind`."""
    _builders[kind] = builder


def url(kind: str, request: CertificateRequest) -> str:
    builder = _builders.get(kind)
    return builder(request) if builder else ""
