"""Certificate kinds: one module per kind, the one home of everything that differs between kinds.

A kind (a subclass of `CertificateKind`, registered with `@register`) owns
- its options form, which the web wizard and the LINE conversation both ask (`options_form`);
- who is on it (`persons`), chosen from the replica by the request's options;
- who may have it issued (`entitlement`, rows of `_rules.Rule` with their legal basis), the
  requester's relation to the people on it (`relation`), whose data or address it shows
  (`shown_residents`) and what the replica must hold for it (`eligibility`): `assess` turns them into
  findings (reason codes), and `check_eligibility` refuses to render while one says refuse;
- the content it prints (`content`): title, attestation, header rows and entries, laid out with
  `documents.layout` and drawn in the shared frame by `documents.drawing`;
- the reviewed reference image of its first page (`reference_image`, tests/reference/<code>.png).

Adding a kind: a module in this package plus its reference image (and its code among the catalog's
`CertificateType` choices, which fees and requests name). Modules whose name starts with "_" hold
what several kinds share and register nothing. Every module here is imported on first use of the
registry, so no list elsewhere names the kinds.
"""

import datetime
import importlib
import pkgutil
from pathlib import Path

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form
from madoguchi.registry.restrictions import Outcome, ReasonCode

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

    # Rows of `_rules.Rule`: who may have it issued, and under which article.
    entitlement: tuple = ()
    # The protected person's own request follows the municipality's setting (住民票, 附票).
    support_self_policy: bool = False
    # The code of a refusal when `persons` finds nothing (a person, a 戸籍, a registration).
    not_found_code: str = ReasonCode.SUBJECT_NOT_FOUND

    def relation(self, request: CertificateRequest) -> str:
        """The requester's relation to the people on the certificate (`registry.relations.Relation`)."""
        raise NotImplementedError

    def shown_residents(self, request: CertificateRequest) -> list:
        """The residents whose data or address the certificate shows."""
        return [p for p in self.persons(request)]

    def eligibility(self, request: CertificateRequest) -> list:
        """Findings about what the replica must hold beyond the persons (a registration, a tax year)."""
        return []

    def assess(self, request: CertificateRequest, today: datetime.date | None = None) -> list:
        """Every finding for `request` (`_rules.Finding`); an empty list means nothing stands in the way."""
        from ._rules import Finding, entitlement_findings, protection_findings

        today = today or timezone.localdate()
        if request.resident is None:
            return [Finding(ReasonCode.SUBJECT_NOT_FOUND, Outcome.REFUSE, "", "申請者が住民記録と照合されていません。")]
        try:
            relation = self.relation(request)
        except PersonSelectionError as exc:
            return [Finding(self.not_found_code, Outcome.REFUSE, "", str(exc))]
        findings = entitlement_findings(self.entitlement, relation, request)
        try:
            shown = self.shown_residents(request)
        except PersonSelectionError as exc:
            return findings or [Finding(self.not_found_code, Outcome.REFUSE, "", str(exc))]
        findings += self.eligibility(request)
        findings += protection_findings(request.resident, shown, self_policy_applies=self.support_self_policy,
                                        request=request, today=today)
        return findings

    def check_eligibility(self, request: CertificateRequest) -> None:
        """Raise `NotEligible` when a finding refuses the request: the last guard before rendering,
        whatever path led here."""
        refusals = [f for f in self.assess(request) if f.outcome == Outcome.REFUSE]
        if refusals:
            raise NotEligible("、".join(f"{ReasonCode(f.code).label}({f.detail})" if f.detail
                                       else str(ReasonCode(f.code).label) for f in refusals))

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
