import datetime

import pytest
from django.core import mail
from django.utils import timezone

from madoguchi.notifications import tasks
from madoguchi.notifications.models import Notice, NoticeStatus

from .flow import received

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_event_is_one_outbox_row_sent_once(municipality, resident):
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    assert notice.status == NoticeStatus.SENT and len(mail.outbox) == 1
    assert request.formatted_reception_number in mail.outbox[0].body
    # A replayed task, or a second worker, does not send it again.
    assert tasks.deliver_notice.call(notice.pk) == "skipped"
    assert tasks.deliver_due() == 0
    assert len(mail.outbox) == 1


def test_no_email_no_notice(municipality, resident):
    request = received(municipality, resident, notice_email="")
    assert not Notice.objects.filter(request=request).exists()


def test_failed_delivery_is_retried_with_backoff_then_sent_once(municipality, resident, monkeypatch):
    calls = []

    def broken(notice):
        calls.append(notice.pk)
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(tasks, "send", broken)
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    assert (notice.status, notice.attempts, notice.last_error) == (NoticeStatus.PENDING, 1,
                                                                    "SMTP server unreachable")
    assert notice.next_attempt_at > timezone.now() + datetime.timedelta(seconds=25)
    assert tasks.deliver_due() == 0  # not due yet
    monkeypatch.undo()
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    assert tasks.deliver_due() == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(mail.outbox) == 1 and len(calls) == 1


def test_backoff_grows_and_is_capped():
    assert [tasks.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert tasks.backoff(30) == datetime.timedelta(hours=6)


def test_gives_up_after_max_attempts(municipality, resident, monkeypatch):
    monkeypatch.setattr(tasks, "send", lambda notice: (_ for _ in ()).throw(OSError("down")))
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    for _ in range(tasks.MAX_ATTEMPTS):
        Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
        tasks.deliver_notice.call(notice.pk)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, tasks.MAX_ATTEMPTS)


def test_housekeeping_command_expires_and_delivers(municipality, resident):
    import io

    from django.core.management import call_command

    from madoguchi.applications.models import CertificateRequest, State

    from .flow import draft

    request = draft(municipality)
    CertificateRequest.objects.filter(pk=request.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=2))
    out = io.StringIO()
    call_command("housekeeping", stdout=out)
    assert "expired 1 requests" in out.getvalue()
    assert CertificateRequest.objects.get(pk=request.pk).state == State.EXPIRED
