"""A resident's draft: the terms and the quoted amount, before signing."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import services as catalog
from madoguchi.tenancy.models import Municipality

from .. import events
from ..models import CertificateRequest
from . import _checks
from ._base import ActionError


@transaction.atomic
def create_draft(municipality: Municipality, *, certificate_type: str, options: dict, copies: int,
                 purpose: str, purpose_detail: str, postage_class: str, notice_email: str = "",
                 channel: str = "web", shown_total: int | None = None) -> CertificateRequest:
    """`shown_total` is the amount the confirmation page showed: if the fee changed since (a
    campaign ended at midnight), nothing is created and the resident sees the new amount first."""
    if not (municipality.accepting_requests and catalog.offers_request_channel(municipality, channel)):
        raise ActionError(_("現在この窓口ではオンライン申請を受け付けていません。"))
    try:
        q = catalog.quote(municipality, certificate_type, copies, postage_class, timezone.localdate(),
                          purpose=purpose)
    except catalog.CatalogError as exc:
        raise ActionError(str(exc)) from None
    if _checks.request_window_closed(municipality, certificate_type, channel):
        raise ActionError(_("この証明書は、現在の時間帯にはお申し込みいただけません。受付時間内にもう一度"
                            "お申し込みください。"))
    if shown_total is not None and shown_total != q.total:
        raise ActionError(_("料金が変更されました。新しい金額をご確認のうえ、もう一度お申し込みください。"))
    request = CertificateRequest.objects.create(
        municipality=municipality, certificate_type=certificate_type, options=options, copies=copies,
        purpose=purpose, purpose_detail=purpose_detail, postage_class=postage_class, channel=channel,
        fee_per_copy=q.fee_per_copy, postage_amount=q.postage_amount, total_amount=q.total,
        fee_exemption_reason=q.exemption_reason, notice_email=notice_email)
    events.record(events.created(request, channel=channel))
    return request
