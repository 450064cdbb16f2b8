"""The public verification page a certificate's QR code points to.

Whoever holds the paper types the 照合番号 printed next to the QR code and learns when, by whom and
which certificate was issued under that number: nothing about the person beyond what the paper
already shows them. A wrong code and an unknown number get the same answer, and attempts are
limited per client and per issue number, so codes cannot be guessed.
"""

import datetime
import re
import secrets
import unicodedata

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form
from madoguchi.core.http import client_ip, ip_bucket
from madoguchi.core.throttle import hit_each
from madoguchi.tenancy.models import Municipality

from .models import IssuedDocument
from .signing import verify_pdf

VERIFY_LIMIT = 10  # attempts per window per client and per issue number
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


@require_http_methods(["GET", "POST"])
def verify(http_request, issue_number: str):
    if not ISSUE_NUMBER.fullmatch(issue_number):
        raise Http404
    form = VerifyForm(http_request.POST or None)
    context = {"form": form, "issue_number": issue_number}
    if http_request.method == "POST" and form.is_valid():
        keys = [f"verify:ip:{ip_bucket(client_ip(http_request))}", f"verify:number:{issue_number}"]
        if not hit_each(keys, VERIFY_LIMIT, VERIFY_WINDOW):
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
        "issued_on": timezone.localtime(document.created_at).date(),
        "issuer": f"{municipality.full_name}　{municipality.certifier_title}",
        "certificate_type": CertificateType(document.request.certificate_type).label,
        "pages": document.pages,
        # The print data this certificate was printed from still carries the municipality's signature.
        "signature": verify_pdf(bytes(batch.pdf)) if batch else None,
    }
