"""Queues that do not starve and lose nothing: separate queues, leases for tasks of stopped workers,
notices stuck mid-send, e-mails of unknown outcome for staff, LINE answers after the reply token
expired, the Redis backend and the scheduler."""

import datetime
import io
import json
import socket
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from madoguchi.identity.tasks import refresh_revocation_data
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.line.tasks import answer, process_events
from madoguchi.notifications import tasks as notice_tasks
from madoguchi.notifications.models import Notice, NoticeStatus
from madoguchi.payments.tasks import reconcile_yesterday, refund_payment

from .flow import received
from .line_helpers import deliver, event, make_channel, post
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
ALICE = "U" + "a" * 32
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend",
                          "QUEUES": ["line", "notices", "providers", "bulk", "default"]}}


def test_each_kind_of_work_has_its_own_queue():
    assert process_events.queue_name == "line"
    assert notice_tasks.deliver_notice.queue_name == "notices"
    assert refund_payment.queue_name == "providers"
    assert {reconcile_yesterday.queue_name, refresh_revocation_data.queue_name} == {"bulk"}


def test_a_task_of_a_killed_worker_runs_again_after_its_lease(settings, municipality, resident):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_BACKEND
    request = received(municipality, resident)  # with the database backend the notice task waits
    notice = Notice.objects.get(request=request)
    assert notice.status == NoticeStatus.PENDING
    task = DBTaskResult.objects.get(queue_name="notices")
    # A worker claimed it and was killed: RUNNING, never finished.
    task.claim("killed-worker")
    call_command("housekeeping", stdout=io.StringIO())
    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING  # the lease has not run out: the worker may be alive
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=timezone.now() - datetime.timedelta(minutes=3))
    call_command("housekeeping", stdout=io.StringIO())
    task.refresh_from_db()
    assert task.status == TaskResultStatus.READY
    # Another worker picks it up; the notice goes out once.
    call_command("db_worker", "--queue-name", "notices", "--batch", "--interval", "0", "--no-startup-delay",
                 stdout=io.StringIO(), stderr=io.StringIO())
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(mail.outbox) == 1


def test_an_email_stuck_mid_send_goes_to_staff_not_out_again(municipality, resident):
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    mail.outbox.clear()
    # The worker claimed it and died during the SMTP transaction.
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENDING,
                                               claimed_at=timezone.now() - datetime.timedelta(minutes=5))
    call_command("housekeeping", stdout=io.StringIO())
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.UNCERTAIN and not mail.outbox
    clerk = signed_in(make_staff(municipality, "clerk"))
    page = clerk.get("/office/").content.decode()
    assert "届いたかどうか分かりません" in page and request.formatted_reception_number in page
    # The clerk decides to send it again.
    clerk.post(f"/office/notices/{notice.pk}/uncertain/", {"resolution": "resend"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(mail.outbox) == 1
    assert "届いたかどうか分かりません" not in clerk.get("/office/").content.decode()


class DroppingSmtp:
    """An SMTP server that takes the whole message and then drops the connection without answering:
    the message may well have been delivered, and the client cannot know."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.messages = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                conn.sendall(b"220 fake ESMTP\r\n")
                for line in reader:
                    command = line.strip().upper()
                    if command.startswith((b"EHLO", b"HELO")):
                        conn.sendall(b"250 fake\r\n")
                    elif command == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        for body_line in reader:
                            if body_line in (b".\r\n", b".\n"):
                                break
                        self.messages += 1
                        break  # drop the connection instead of "250 queued"
                    elif command == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self):
        self.sock.close()


def test_an_email_whose_answer_never_came_is_uncertain_not_retried(settings, municipality, resident):
    server = DroppingSmtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 2
    try:
        request = received(municipality, resident)
        notice = Notice.objects.get(request=request)
        assert notice.status == NoticeStatus.UNCERTAIN and server.messages == 1
        assert notice_tasks.deliver_due() == 0 and server.messages == 1
    finally:
        server.close()


def test_an_email_refused_before_delivery_is_retried(settings, municipality, resident):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    assert notice.status == NoticeStatus.PENDING and notice.attempts == 1


@pytest.fixture
def channel(live_server, settings, municipality):
    base = live_server.url + "/line-emulator"
    settings.LINE_API_BASE_URL = settings.LINE_API_DATA_BASE_URL = base
    settings.LINE_LIFF_URL = base + "/liff"
    PLATFORM.reset()
    return make_channel(municipality)


def test_a_line_push_stuck_mid_send_is_sent_again_with_its_retry_key(channel, municipality, resident):
    from .test_line import _received_via_line

    request = _received_via_line(channel, municipality, resident)
    notice = Notice.objects.get(request=request, transport="line", subject="received")
    count = len(PLATFORM.bot_messages(municipality.code, ALICE))
    # The push reached LINE, then the worker died before recording it.
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENDING,
                                               claimed_at=timezone.now() - datetime.timedelta(minutes=5))
    call_command("housekeeping", stdout=io.StringIO())
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT  # LINE answered 409 to the retry key: delivered before
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == count


def test_an_answer_after_the_reply_token_expired_is_pushed_once(channel, municipality):
    old = event("message", ALICE, message={"type": "text", "id": "1", "text": "証明書の申請"})
    old["timestamp"] = int((timezone.now() - datetime.timedelta(minutes=3)).timestamp() * 1000)
    deliver(municipality.code, old)
    bot = PLATFORM.bot_messages(municipality.code, ALICE)
    assert bot, "the resident got an answer"
    assert any(code == municipality.code for code, _key in PLATFORM.retry_keys)
    # The same answer again (a repeated task) is refused by LINE: still one answer.
    from linebot.v3.messaging import TextMessage

    assert answer(channel, old["webhookEventId"], "", ALICE, old["timestamp"],
                  [TextMessage(text="again")]) == "duplicate"
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == len(bot)


def test_a_refused_reply_token_falls_back_to_a_push(channel, municipality):
    fresh = event("message", ALICE, message={"type": "text", "id": "1", "text": "証明書の申請"})
    # LINE never issued this token (or it was used): the reply is refused with 400.
    body = json.dumps({"destination": "U0", "events": [fresh]}).encode()
    assert post(municipality.code, body).status_code == 200
    assert PLATFORM.bot_messages(municipality.code, ALICE)


def test_the_redis_backend_runs_a_notice_through_a_worker(settings, municipality, resident):
    import django_rq
    from rq import SimpleWorker

    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend",
                                  "QUEUES": ["line", "notices", "providers", "bulk", "default"]}}
    queue = django_rq.get_queue("notices")
    queue.empty()
    request = received(municipality, resident)
    notice = Notice.objects.get(request=request)
    assert notice.status == NoticeStatus.PENDING and queue.count == 1
    from django_tasks_rq.backend import Job

    worker = SimpleWorker([queue], connection=queue.connection, job_class=Job)
    worker.work(burst=True)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(mail.outbox) == 1
    from madoguchi.operations.queues import backlog

    assert {b.queue: b.waiting for b in backlog()}["notices"] == 0


def test_the_scheduler_runs_each_job_once_per_period_across_processes(settings, municipality):
    settings.TASKS = DB_BACKEND
    first, second = io.StringIO(), io.StringIO()
    call_command("scheduler", "--once", stdout=first)
    call_command("scheduler", "--once", stdout=second)
    assert "housekeeping:" in first.getvalue()
    assert "housekeeping:" not in second.getvalue()


def _pending_event(channel, municipality, monkeypatch):
    """A LINE event handled by a run that died before its answer went out (killed worker)."""
    from madoguchi.line import tasks as line_tasks
    from madoguchi.line.models import WebhookEvent

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(line_tasks, "send_pending_answers", killed)
    fresh = event("message", ALICE, message={"type": "text", "id": "1", "text": "証明書の申請"})
    deliver(municipality.code, fresh)  # the task fails (the immediate backend records it)
    monkeypatch.undo()
    stored = WebhookEvent.objects.get(event_id=fresh["webhookEventId"])
    return fresh, stored


def test_a_worker_killed_between_handling_and_answering_loses_no_answer(channel, municipality, monkeypatch):
    fresh, stored = _pending_event(channel, municipality, monkeypatch)
    assert stored.processed_at is not None and stored.answer is not None
    assert "replyToken" not in stored.payload  # minimised all the same; the answer keeps what it needs
    assert not PLATFORM.bot_messages(municipality.code, ALICE)
    # The job runs again (re-queued after its lease, or LINE redelivers): the kept answer goes out once,
    # as the reply it was meant to be (the token still lives), and the conversation is not advanced twice.
    assert process_events.call(municipality.pk, [fresh["webhookEventId"]]) == 1
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == 2  # the greeting and the first question
    assert not PLATFORM.retry_keys
    stored.refresh_from_db()
    assert stored.answer is None
    assert process_events.call(municipality.pk, [fresh["webhookEventId"]]) == 0
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == 2


def test_a_worker_killed_after_its_reply_arrived_does_not_answer_twice(channel, municipality, monkeypatch):
    from madoguchi.line import tasks as line_tasks
    from madoguchi.line.models import WebhookEvent

    fresh, stored = _pending_event(channel, municipality, monkeypatch)
    kept = stored.answer
    # This time the reply reached LINE and the worker died before recording it.
    assert line_tasks.send_pending_answers(channel, [stored.pk], retried=False) == ["replied"]
    WebhookEvent.objects.filter(pk=stored.pk).update(answer=kept)
    sent = len(PLATFORM.bot_messages(municipality.code, ALICE))
    assert process_events.call(municipality.pk, [fresh["webhookEventId"]]) == 1
    # LINE refused the used token: the answer had arrived, so nothing is pushed.
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == sent and not PLATFORM.retry_keys
    stored.refresh_from_db()
    assert stored.answer is None


def test_housekeeping_sends_an_answer_left_behind(channel, municipality, monkeypatch):
    from madoguchi.line.models import WebhookEvent

    fresh, stored = _pending_event(channel, municipality, monkeypatch)
    WebhookEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - datetime.timedelta(minutes=5))
    call_command("housekeeping", stdout=io.StringIO())
    stored.refresh_from_db()
    assert stored.answer is None and PLATFORM.bot_messages(municipality.code, ALICE)


def _rq_settings(settings):
    settings.TASKS = {"default": {"BACKEND": "madoguchi.operations.tasks_backend.RQBackend",
                                  "QUEUES": ["line", "notices", "providers", "bulk", "default"]}}


def test_workers_run_the_line_queue_warm_and_the_others_forking(settings):
    from madoguchi.operations.management.commands.workers import Command

    _rq_settings(settings)
    command = Command()
    line, notices = command.command("line", 0, 0.2), command.command("notices", 0, 0.2)
    assert line[-1] == "line" and "madoguchi.operations.rq_worker.WarmWorker" in line
    assert notices[-1] == "notices" and "--worker-class" not in notices
    settings.TASKS = DB_BACKEND
    assert "db_worker" in command.command("line", 0, 0.2)


def test_the_warm_worker_answers_line_events_in_its_own_process_with_a_short_lease(
        settings, channel, municipality, monkeypatch):
    import os

    import django_rq
    from django_tasks_rq.backend import Job
    from rq.registry import StartedJobRegistry

    from madoguchi.line.models import WebhookEvent
    from madoguchi.operations import rq_worker

    _rq_settings(settings)
    queue = django_rq.get_queue("line")
    queue.empty()
    fresh = event("message", ALICE, message={"type": "text", "id": "1", "text": "証明書の申請"})
    deliver(municipality.code, fresh)
    assert queue.count == 1 and not PLATFORM.bot_messages(municipality.code, ALICE)
    seen = {}
    real = rq_worker.WarmWorker.perform_job

    def perform_job(self, job, queue, execution):
        seen["pid"] = os.getpid()
        seen["lease"] = StartedJobRegistry(queue=queue).connection.zscore(
            StartedJobRegistry(queue=queue).key, execution.composite_key)
        return real(self, job, queue, execution)

    monkeypatch.setattr(rq_worker.WarmWorker, "perform_job", perform_job)
    worker = rq_worker.WarmWorker([queue], connection=queue.connection, job_class=Job)
    started = timezone.now().timestamp()
    worker.work(burst=True)
    assert seen["pid"] == os.getpid()  # no work horse
    assert seen["lease"] <= started + rq_worker.LEASE_TTL + 5  # given up soon after its worker dies
    assert WebhookEvent.objects.get(event_id=fresh["webhookEventId"]).answer is None
    assert PLATFORM.bot_messages(municipality.code, ALICE)


def test_a_task_enqueued_in_a_transaction_reaches_redis_when_it_commits(settings):
    import django_rq
    from django.db import transaction

    _rq_settings(settings)
    queue = django_rq.get_queue("line")
    queue.empty()

    def waiting() -> list:
        """The event ids of the jobs on the queue (a live server thread of another test may add its own)."""
        jobs = (queue.fetch_job(job_id) for job_id in queue.get_job_ids())
        return [job.args[1] for job in jobs if job is not None and job.args[0] == 999999]

    with transaction.atomic():
        result = process_events.enqueue(999999, ["not-yet-committed"])
        assert waiting() == []  # a warm worker would find the event rows not there yet
    assert waiting() == [["not-yet-committed"]] and result.id in queue.get_job_ids()
    with transaction.atomic():
        process_events.enqueue(999999, ["rolled-back"])
        transaction.set_rollback(True)
    assert waiting() == [["not-yet-committed"]]
    queue.empty()


def test_a_job_taken_by_a_worker_that_died_before_starting_it_is_queued_again(settings):
    import django_rq
    from django_tasks_rq.backend import Job
    from rq.executions import Execution
    from rq.registry import StartedJobRegistry

    from madoguchi.operations.queues import requeue_stale_tasks

    _rq_settings(settings)
    queue = django_rq.get_queue("line", job_class=Job)
    queue.empty()
    process_events.enqueue(999999, ["gone"])
    job_id = queue.get_job_ids()[0]
    job = queue.fetch_job(job_id)
    # The worker took it off the queue and registered the execution, then was SIGKILLed before the
    # job was marked started; its lease has run out.
    queue.connection.lrem(queue.key, 1, job_id)
    with queue.connection.pipeline() as pipe:
        execution = Execution.create(job, ttl=1, pipeline=pipe, worker_name="killed")
        pipe.execute()
    registry = StartedJobRegistry(queue=queue)
    queue.connection.zadd(registry.key, {execution.composite_key: timezone.now().timestamp() - 10})
    assert queue.count == 0
    assert requeue_stale_tasks() >= 1
    assert job_id in queue.get_job_ids()
    queue.empty()
