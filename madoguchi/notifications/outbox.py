"""Writing notices to the outbox. Called by actions inside their transaction; delivery is a task."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from madoguchi.applications.models import CertificateRequest

from . import transports
from .models import Notice


def reachable(request: CertificateRequest, kind: str) -> list[str]:
    """The names of the transports that would carry a notice of `kind` to this request's resident."""
    return [t.name for t in transports.registered() if kind in t.kinds and t.recipient(request)]


def enqueue_notice(request: CertificateRequest, kind: str, *, key: str = "",
                   extra: dict | None = None) -> list[Notice]:
    """Record that the resident must be told about `kind`, once per request, kind (or `key`, for
    events that can happen more than once, like refunds) and transport; `extra` goes to the template."""
    notices = []
    for transport in transports.registered():
        recipient = transport.recipient(request) if kind in transport.kinds else ""
        if not recipient:
            continue
        event = key or kind
        # E-mail keeps the key it had before LINE existed.
        dedupe_key = (f"{request.pk}:{event}" if transport.name == "email"
                      else f"{request.pk}:{event}:{transport.name}")
        subject, body = transport.render(request, kind, extra or {})
        # Insert first and let the unique dedupe key catch the rare repeat (a replayed event): the
        # usual case costs one INSERT instead of a SELECT before it.
        try:
            with transaction.atomic():
                notice = Notice.objects.create(
                    dedupe_key=dedupe_key, municipality=request.municipality, request=request,
                    transport=transport.name, recipient=recipient, subject=subject[:200], body=body,
                    next_attempt_at=timezone.now())
        except IntegrityError:
            notice = Notice.objects.for_municipality(request.municipality).get(dedupe_key=dedupe_key)
        else:
            from .tasks import deliver_notice

            transaction.on_commit(lambda pk=notice.pk: deliver_notice.enqueue(pk))
        notices.append(notice)
    return notices
