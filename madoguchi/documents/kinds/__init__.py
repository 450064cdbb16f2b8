"""Certificate kinds: one module per kind, the one home of everything that differs between kinds.

A kind (a subclass of `CertificateKind`, registered with `@register`) owns
- its options form, which the web wizard and the LINE conversation both ask (`options_form`);
- who is on it (`persons`), chosen from the replica by the request's options;
- the eligibility check before issuing (`check_eligibility`);
- the content it prints (`content`): title, attestation, header rows and entries, laid out with
  `documents.layout` and drawn in the shared frame by `documents.drawing`;
- the reviewed reference image of its first page (`reference_image`, tests/reference/<code>.png).

Adding a kind: a module in this package plus its reference image (and its code among the catalog's
`CertificateType` choices, which fees and requests name). Modules whose name starts with "_" hold
what several kinds share and register nothing. Every module here is imported on first use of the
registry, so no list elsewhere names the kinds.
"""

import importlib
import pkgutil
from pathlib import Path

from django import forms
from django.core.exceptions import ImproperlyConfigured

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form

from ..layout import DocumentContent

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "tests" / "reference"


class PersonSelectionError(ValueError):
    """The replica does not hold what the request names (a person, a 戸籍, a tax year); the message
    is for the clerk, and nothing is issued."""


class NotEligible(PersonSelectionError):
    """The request may not be issued for the person it names; the message is for the clerk."""


class NoOptionsForm(Form):
    pass


class CertificateKind:
    """Defaults of a certificate kind; a kind module overrides what differs."""

    code: str = ""  # a `catalog.CertificateType` value
    title: str = ""
    attestation: str = ""
    options_form_class: type[forms.Form] = NoOptionsForm

    @property
    def label(self) -> str:
        return CertificateType(self.code).label

    @property
    def reference_image(self) -> Path:
        return REFERENCE_DIR / f"{self.code}.png"

    def options_form(self, data=None, initial=None, today=None) -> forms.Form:
        """The options form, as the web wizard and the LINE conversation ask it (`today` for
        choices that depend on the date)."""
        return self.options_form_class(data, initial=initial)

    def persons(self, request: CertificateRequest) -> list:
        """Who the certificate is about, from the replica (raises PersonSelectionError)."""
        raise NotImplementedError

    def check_eligibility(self, request: CertificateRequest) -> None:
        """Raise `NotEligible` when this kind may not be issued for the request. No kind restricts
        issuance beyond what `persons` and `content` find in the replica yet."""

    def content(self, request: CertificateRequest) -> DocumentContent:
        raise NotImplementedError


class KindRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, CertificateKind] = {}

    def register(self, kind_class: type[CertificateKind]) -> type[CertificateKind]:
        """Class decorator: one instance of the kind, found by its code."""
        code = kind_class.code
        if code not in CertificateType.values:
            raise ImproperlyConfigured(f"Certificate kind {kind_class.__name__} has an unknown code {code!r}.")
        if code in self._kinds:
            raise ImproperlyConfigured(f"Two certificate kinds with the code {code!r}.")
        self._kinds[code] = kind_class()
        return kind_class

    def get(self, code: str) -> CertificateKind:
        try:
            return self._kinds[code]
        except KeyError:
            raise LookupError(f"No certificate kind {code!r}.") from None

    def __contains__(self, code: str) -> bool:
        return code in self._kinds

    def all(self) -> list[CertificateKind]:
        """In the catalog's order of certificate types."""
        return [self._kinds[code] for code in CertificateType.values if code in self._kinds]


kinds = KindRegistry()
register = kinds.register
_discovered = False


def _discover() -> None:
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def get_kind(code: str) -> CertificateKind:
    """The kind of a certificate type code; LookupError for a type no kind renders."""
    _discover()
    return kinds.get(code)


def is_kind(code: str) -> bool:
    _discover()
    return code in kinds


def all_kinds() -> list[CertificateKind]:
    _discover()
    return kinds.all()
