"""The public verification page a certificate's QR code points to.

Whoever holds the paper types the 照合番号 printed next to the QR code and learns when, by whom and
which certificate was issued under that number, with what lets them compare their paper with it: the
kind, the issue date, the first character of the name, the number of pages and the 内容確認値 (the
digest of the content printed on every page). Nothing about the person beyond what the paper already
shows them (個人情報の保護に関する法律 第69条: no use beyond the purpose, here the holder's check).

A wrong code and an unknown number get the same answer. Attempts are limited per client only: a
limit per issue number would let anyone lock the holder of a given certificate out by typing wrong
codes for its number. A 12-character code from 31 symbols (about 10^17.9 values) against 10 tries per
15 minutes per client network is out of reach of guessing even for many clients.
"""

import datetime
import re
import secrets
import unicodedata

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from madoguchi.applications.models import State
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.core.forms import Form
from madoguchi.core.http import client_ip, ip_bucket
from madoguchi.core.throttle import hit
from madoguchi.tenancy.models import Municipality

from .drawing import printed_digest
from .models import IssuedDocument
from .signing import verify_pdf

VERIFY_LIMIT = 10  # attempts per window per client (an IPv4 address or an IPv6 /64)
VERIFY_WINDOW = datetime.timedelta(minutes=15)
ISSUE_NUMBER = re.compile(r"[0-9]{16}")


class VerifyForm(Form):
    verification_code = forms.CharField(label=_("照合番号(12文字)"), max_length=40,
                                        widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                      "autocapitalize": "characters"}))

    def clean_verification_code(self) -> str:
        # Typed from paper: full-width letters, lower case, spaces and hyphens are all forgiven.
        code = unicodedata.normalize("NFKC", self.cleaned_data["verification_code"]).upper()
        return re.sub(r"[\s\-‐ー－]", "", code)


@require_http_methods(["GET"])
def qr_redirect(http_request, issue_number: str):
    """`/V/<number>`, the short address in the QR code, leads to the verification page."""
    if not ISSUE_NUMBER.fullmatch(issue_number):
        raise Http404
    return redirect("documents:verify", issue_number=issue_number)


@require_http_methods(["GET", "POST"])
def verify(http_request, issue_number: str):
    if not ISSUE_NUMBER.fullmatch(issue_number):
        raise Http404
    form = VerifyForm(http_request.POST or None)
    context = {"form": form, "issue_number": issue_number}
    if http_request.method == "POST" and form.is_valid():
        if not hit(f"verify:client:{ip_bucket(client_ip(http_request))}", VERIFY_LIMIT, VERIFY_WINDOW):
            context["throttled"] = True
            return render(http_request, "documents/verify.html", context, status=429)
        # The issue number starts with the municipality code (`services.new_issue_number`) and is
        # unique within that municipality: the lookup names both.
        municipality = Municipality.objects.filter(code=issue_number[:6]).first()
        document = (IssuedDocument.objects.filter(municipality=municipality, issue_number=issue_number)
                    .select_related("municipality", "request").first() if municipality else None)
        code = form.cleaned_data["verification_code"]
        if document is None or not secrets.compare_digest(document.verification_code.encode(), code.encode()):
            context["not_found"] = True
        else:
            context["result"] = _result(document)
    return render(http_request, "documents/verify.html", context)


def _result(document: IssuedDocument) -> dict:
    municipality = document.municipality
    batch = document.batches.order_by("-created_at", "-id").first()
    return {
        # Printed, then withdrawn (a returned envelope whose request was cancelled and refunded): the
        # sheet never reached the resident and must not be relied on by whoever holds it.
        "withdrawn": document.request.state == State.CANCELLED,
        "issued_on": to_wareki(timezone.localtime(document.created_at).date()),
        "issuer": f"{municipality.full_name}　{municipality.certifier_title}",
        "certificate_type": CertificateType(document.request.certificate_type).label,
        "pages": document.pages,
        "name_initial": document.name_initial,
        "content_digest": printed_digest(document.content_digest) if document.content_digest else "",
        # The print data this certificate was printed from still carries the municipality's signature.
        "signature": verify_pdf(bytes(batch.pdf)) if batch else None,
    }
