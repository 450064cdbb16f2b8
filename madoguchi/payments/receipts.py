"""Receipts: a page and a 領収書 PDF per settled payment, for the resident who made the request.

The 領収書 states who received how much for what (payee = the municipality's head, e.g.
「窓口市長」; 但し書き = the certificate's 手数料 and the 郵便料), the date of payment, the payment
method, and any refund. A name the certificate font cannot draw is written 「上様」, never with
a substitute glyph.
"""

import io

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
from madoguchi.core.http import owns_request
from madoguchi.documents.fonts import MissingGlyph, certificate_font

from .models import Payment, PaymentStatus
from .providers import register

RECEIPTED = [PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED]


def method(payment: Payment) -> str:
    """The payment method as the provider names it; a provider no longer installed, by its name."""
    try:
        return str(register[payment.provider].label) or payment.provider
    except KeyError:
        return payment.provider


def _paid_request(http_request, code: str, public_id) -> tuple[CertificateRequest, Payment]:
    """Only the browser that made the request sees its receipt (as for the done page)."""
    if not owns_request(http_request, public_id):
        raise Http404
    request = get_object_or_404(CertificateRequest.objects.select_related("municipality"),
                                municipality__code=code, public_id=public_id)
    payment = request.payments.filter(status__in=RECEIPTED).first()
    if payment is None:
        raise Http404
    return request, payment


def lines(request: CertificateRequest, payment: Payment) -> dict:
    """What the page and the PDF both say."""
    m = request.municipality
    return {
        "number": payment.order_id,
        "payee": m.certifier_title,
        "amount": payment.amount,
        "refunded": payment.refunded_amount,
        "paid_on": to_wareki(timezone.localdate(payment.captured_at)),
        "method": method(payment),
        "purpose": _("{certificate}の交付手数料({fee}円×{copies}通)及び郵便料({postage}円)として").format(
            certificate=request.get_certificate_type_display(), fee=request.fee_per_copy,
            copies=request.copies, postage=request.postage_amount),
        "exemption": request.fee_exemption_reason,
        "reception_number": request.formatted_reception_number,
    }


@require_GET
def receipt_page(http_request, code, public_id):
    request, payment = _paid_request(http_request, code, public_id)
    return render(http_request, "payments/receipt.html", {"m": request.municipality, "r": request,
                                                          "receipt": lines(request, payment)})


def build_pdf(request: CertificateRequest, payment: Payment) -> bytes:
    font = certificate_font()
    data = lines(request, payment)
    try:
        addressee = font.encode(f"{request.delivery_name} 様", "receipt")
    except MissingGlyph:
        addressee = font.encode("上様")
    buffer = io.BytesIO()
    width, height = landscape(A5)
    c = Canvas(buffer, pagesize=(width, height))
    c.setTitle(f"領収書 {data['number']}")
    c.setFont(font.name, 22)
    c.drawCentredString(width / 2, height - 25 * mm, font.encode("領収書"))
    c.setFont(font.name, 12)
    c.drawString(20 * mm, height - 40 * mm, addressee)
    c.drawRightString(width - 20 * mm, height - 40 * mm, font.encode(f"No. {data['number']}"))
    c.setFont(font.name, 20)
    c.drawCentredString(width / 2, height - 60 * mm, font.encode(f"金 {data['amount']:,} 円"))
    c.line(width / 2 - 50 * mm, height - 62 * mm, width / 2 + 50 * mm, height - 62 * mm)
    c.setFont(font.name, 10)
    y = height - 75 * mm
    rows = [f"但し {data['purpose']}", f"お支払い方法 {data['method']}", f"受付番号 {data['reception_number']}"]
    if data["exemption"]:
        rows.append(f"手数料免除 {data['exemption']}")
    if data["refunded"]:
        rows.append(f"うち返金済み {data['refunded']:,} 円")
    for row in rows:
        c.drawString(20 * mm, y, font.encode(row, "receipt"))
        y -= 6 * mm
    c.drawString(20 * mm, 20 * mm, font.encode(f"{data['paid_on']} 上記の金額を領収しました。"))
    c.setFont(font.name, 12)
    c.drawRightString(width - 20 * mm, 20 * mm, font.encode(data["payee"], "receipt"))
    c.showPage()
    c.save()
    return buffer.getvalue()


@require_GET
def receipt_pdf(http_request, code, public_id):
    request, payment = _paid_request(http_request, code, public_id)
    response = HttpResponse(build_pdf(request, payment), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{payment.order_id}.pdf"'
    return response
