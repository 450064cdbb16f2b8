"""Links in notices to a resident's page (the survey, the correction page), contributed by the
channel that serves the page: notices never name a channel's URL (docs/architecture.md)."""

from collections.abc import Callable

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality

_builders: dict[str, Callable[[CertificateRequest], str]] = {}
_list_builder: list[Callable[[Municipality, list[CertificateRequest]], str]] = []


def register(kind: str, builder: Callable[[CertificateRequest], str]) -> None:
    """`builder(request)` returns the absolute URL of the page for notices of `kind`."""
    _builders[kind] = builder


def url(kind: str, request: CertificateRequest) -> str:
    builder = _builders.get(kind)
    return builder(request) if builder else ""


def register_requests_list(builder: Callable[[Municipality, list[CertificateRequest]], str]) -> None:
    """`builder(municipality, requests)` returns a signed link that opens exactly `requests` in
    「申請の一覧」 (for a channel that knows whose they are, as LINE knows its user's requests)."""
    _list_builder[:] = [builder]


def requests_list_url(municipality: Municipality, requests: list[CertificateRequest]) -> str:
    return _list_builder[0](municipality, requests) if _list_builder and requests else ""
