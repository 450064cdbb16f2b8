"""Writing notices to the outbox. Called by actions inside their transaction; delivery is a task."""

from django.db import transaction
from django.utils import timezone

from madoguchi.applications.models import CertificateRequest

from . import channels
from .models import Notice


def enqueue_notice(request: CertificateRequest, kind: str) -> list[Notice]:
    """Record that the resident must be told about `kind`, once per request, kind and channel."""
    notices = []
    for channel in channels.registered():
        recipient = channel.recipient(request) if kind in channel.kinds else ""
        if not recipient:
            continue
        # E-mail keeps the key it had before LINE existed.
        key = f"{request.pk}:{kind}" if channel.name == "email" else f"{request.pk}:{kind}:{channel.name}"
        subject, body = channel.render(request, kind)
        notice, created = Notice.objects.get_or_create(
            dedupe_key=key,
            defaults=dict(municipality=request.municipality, request=request, channel=channel.name,
                          recipient=recipient, subject=subject[:200], body=body, next_attempt_at=timezone.now()),
        )
        if created:
            from .tasks import deliver_notice

            transaction.on_commit(lambda pk=notice.pk: deliver_notice.enqueue(pk))
        notices.append(notice)
    return notices
