"""Delivering outbox notices: at most once per notice, retried with exponential backoff."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from . import transports
from .models import Notice, NoticeStatus

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def _claim(notice_id: int) -> Notice | None:
    """Mark the notice as being sent, committed before the send: a second worker, or a replayed
    task, finds it claimed and does nothing. A crash mid-send leaves it `sending` for an operator
    rather than risking a duplicate."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.status != NoticeStatus.PENDING or notice.next_attempt_at > timezone.now():
            return None
        notice.status = NoticeStatus.SENDING
        notice.attempts += 1
        notice.claimed_at = timezone.now()
        notice.save(update_fields=["status", "attempts", "claimed_at"])
        return notice


def send(notice: Notice) -> None:
    transports.get(notice.transport).send(notice)


@task(queue_name="notices")
def deliver_notice(notice_id: int) -> str:
    notice = _claim(notice_id)
    if notice is None:
        return "skipped"
    try:
        send(notice)
    except transports.Undeliverable as exc:
        Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.UNDELIVERABLE, last_error=str(exc)[:500])
        return "undeliverable"
    except transports.OutcomeUnknown as exc:
        logger.warning("notice %s outcome unknown: %s", notice_id, exc)
        Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.UNCERTAIN, last_error=str(exc)[:500])
        return "uncertain"
    except Exception as exc:  # any transport failure: retry later
        logger.warning("notice %s failed: %s", notice_id, exc)
        failed = notice.attempts >= MAX_ATTEMPTS
        retry_at = timezone.now() + backoff(notice.attempts)
        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.FAILED if failed else NoticeStatus.PENDING, next_attempt_at=retry_at,
            last_error=str(exc)[:500])
        if not failed and deliver_notice.get_backend().supports_defer:
            deliver_notice.using(run_after=retry_at).enqueue(notice.pk)
        return "failed"
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


def recover_stuck(lease: datetime.timedelta | None = None) -> int:
    """Notices left `sending` by a worker that died mid-send (housekeeping): sent again where the
    transport drops repeats (LINE's retry key), otherwise marked uncertain for staff to check, never
    sent twice. Returns how many were recovered either way."""
    lease = lease or datetime.timedelta(seconds=settings.TASK_QUEUES["notices"])
    stuck = Notice.objects.filter(status=NoticeStatus.SENDING, claimed_at__lt=timezone.now() - lease)
    requeued = uncertain = 0
    for notice in stuck.only("pk", "transport"):
        if transports.get(notice.transport).repeatable:
            requeued += Notice.objects.filter(pk=notice.pk, status=NoticeStatus.SENDING).update(
                status=NoticeStatus.PENDING, next_attempt_at=timezone.now(), last_error="worker stopped mid-send")
            transaction.on_commit(lambda pk=notice.pk: deliver_notice.enqueue(pk))
        else:
            uncertain += Notice.objects.filter(pk=notice.pk, status=NoticeStatus.SENDING).update(
                status=NoticeStatus.UNCERTAIN, last_error="worker stopped mid-send: outcome unknown")
    if uncertain:
        logger.warning("%s e-mail notices of unknown outcome reported to staff", uncertain)
    return requeued + uncertain


def resend(notice: Notice) -> None:
    """Staff decided to send a notice of unknown outcome again."""
    Notice.objects.filter(pk=notice.pk, status=NoticeStatus.UNCERTAIN).update(
        status=NoticeStatus.PENDING, next_attempt_at=timezone.now())
    transaction.on_commit(lambda: deliver_notice.enqueue(notice.pk))


def deliver_due(limit: int = 200) -> int:
    """Deliver every pending notice whose time has come (run periodically by the worker loop)."""
    ids = list(Notice.objects.filter(status=NoticeStatus.PENDING, next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    return sum(deliver_notice.call(pk) == "sent" for pk in ids)
