"""Writing notices to the outbox. Called by actions inside their transaction; delivery is a task."""

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest

from .models import Notice

SUBJECTS = {
    "received": _("【{municipality}】証明書の申請を受け付けました"),
    "rejected": _("【{municipality}】証明書の申請を却下しました"),
    "refunded": _("【{municipality}】手数料を返金しました"),
    "partially_refunded": _("【{municipality}】手数料の一部を返金しました"),
    "mailed": _("【{municipality}】証明書を発送しました"),
}


def enqueue_notice(request: CertificateRequest, kind: str, *, key: str = "",
                   extra: dict | None = None) -> Notice | None:
    """Record that the resident must be told about `kind`, once per request and kind (or per `key`,
    for events that can happen more than once, like refunds); `extra` goes to the template."""
    if not request.notice_email:
        return None  # LINE delivery arrives with the LINE channel; e-mail is opt-in on the web.
    notice, created = Notice.objects.get_or_create(
        dedupe_key=f"{request.pk}:{key or kind}",
        defaults=dict(
            municipality=request.municipality, request=request, channel="email",
            recipient=request.notice_email,
            subject=str(SUBJECTS[kind]).format(municipality=request.municipality.name),
            body=render_to_string(f"notifications/{kind}.txt", {"r": request, "m": request.municipality,
                                                                     **(extra or {})}),
            next_attempt_at=timezone.now(),
        ),
    )
    if created:
        from .tasks import deliver_notice

        transaction.on_commit(lambda: deliver_notice.enqueue(notice.pk))
    return notice
