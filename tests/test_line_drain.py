"""The LINE inbox drained in batches: one waiting job per municipality however many deliveries arrive
(with Redis), events handled oldest first, a failing event isolated from its batch, answers to
different users sent side by side and each user's in order, shared Redis and LINE clients."""

import pytest
from django.db import transaction

from madoguchi.line import tasks as line_tasks
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.line.models import EventOutcome, WebhookEvent
from madoguchi.operations import queues

from .line_helpers import deliver, event, make_channel
from .test_queues import DB_BACKEND

pytestmark = pytest.mark.django_db(transaction=True)
USERS = ["U" + c * 32 for c in "abcdef"]


@pytest.fixture
def channel(live_server, settings, municipality):
    base = live_server.url + "/line-emulator"
    settings.LINE_API_BASE_URL = settings.LINE_API_DATA_BASE_URL = base
    PLATFORM.reset()
    return make_channel(municipality)


@pytest.fixture
def rq(settings):
    import django_rq

    settings.TASKS = {"default": {"BACKEND": "madoguchi.operations.tasks_backend.RQBackend",
                                  "QUEUES": ["line", "notices", "providers", "bulk", "default"]}}
    queue = django_rq.get_queue("line")
    queue.empty()
    queue.connection.delete(*queue.connection.keys("madoguchi:waiting:*") or ["none"])
    yield queue
    queue.empty()
    queue.connection.delete(*queue.connection.keys("madoguchi:waiting:*") or ["none"])


def _drains(queue, municipality_id: int) -> int:
    """Drain jobs of this municipality waiting on the queue (another test's live server may add others)."""
    jobs = (queue.fetch_job(job_id) for job_id in queue.get_job_ids())
    return sum(1 for job in jobs if job is not None and job.func_name.endswith("drain_inbox")
               and list(job.args) == [municipality_id])


def _start_worker(municipality_id: int):
    """Another worker: a drain on a thread of its own (so on a database connection of its own)."""
    import threading

    from django.db import connections

    def drain():
        try:
            line_tasks.drain_inbox.call(municipality_id)
        finally:
            connections.close_all()

    worker = threading.Thread(target=drain)
    worker.start()
    return worker


def test_many_deliveries_wake_one_waiting_drain_and_a_started_drain_lets_the_next_one_wake(rq, channel,
                                                                                           municipality):
    for n in range(5):
        deliver(municipality.code, event("message", USERS[n], message={"type": "text", "id": str(n), "text": "申請"}))
    assert _drains(rq, municipality.pk) == 1
    assert WebhookEvent.objects.filter(processed_at=None).count() == 5
    key = "madoguchi:waiting:" + line_tasks.wake_key(municipality.pk)
    assert 0 < rq.connection.ttl(key) <= queues.WAKE_TTL  # a lost job blocks the next wake-up no longer
    # The job starts: it clears the key before reading the inbox, so a delivery from now on wakes a new one.
    queues.woken(line_tasks.drain_inbox, line_tasks.wake_key(municipality.pk))
    deliver(municipality.code, event("message", USERS[5], message={"type": "text", "id": "5", "text": "申請"}))
    assert _drains(rq, municipality.pk) == 2
    # One drain handles every pending event and answers each user.
    assert line_tasks.drain_inbox.call(municipality.pk) == 6
    assert not WebhookEvent.objects.filter(processed_at=None).exists()
    assert not WebhookEvent.objects.filter(answer__isnull=False).exists()
    assert all(PLATFORM.bot_messages(municipality.code, user) for user in USERS)
    assert line_tasks.drain_inbox.call(municipality.pk) == 0  # the second job finds nothing left


def test_a_wake_up_inside_a_transaction_waits_for_its_commit_and_a_rollback_wakes_nothing(rq, channel,
                                                                                          municipality):
    with transaction.atomic():
        line_tasks.wake_drain(municipality.pk)
        assert _drains(rq, municipality.pk) == 0  # a worker would not see the rows yet
    assert _drains(rq, municipality.pk) == 1
    rq.empty()
    queues.woken(line_tasks.drain_inbox, line_tasks.wake_key(municipality.pk))
    with transaction.atomic():
        line_tasks.wake_drain(municipality.pk)
        transaction.set_rollback(True)
    assert _drains(rq, municipality.pk) == 0
    line_tasks.wake_drain(municipality.pk)
    assert _drains(rq, municipality.pk) == 1


def test_a_failing_event_is_marked_failed_and_the_rest_of_its_batch_is_handled(channel, municipality,
                                                                               monkeypatch, settings):
    settings.TASKS = DB_BACKEND  # the task is recorded, not run: the test drains by hand
    real = line_tasks.handle_event

    def handle_event(account, payload, users=None):
        if (payload.get("message") or {}).get("text") == "壊れた":
            raise RuntimeError("a bug in one handler")
        return real(account, payload, users)

    monkeypatch.setattr(line_tasks, "handle_event", handle_event)
    sent = [event("message", USERS[n], message={"type": "text", "id": str(n), "text": "壊れた" if n == 2 else "申請"})
            for n in range(4)]
    deliver(municipality.code, *sent)  # the database backend only records the task: nothing ran yet
    assert WebhookEvent.objects.filter(processed_at=None).count() == 4
    assert line_tasks.drain_inbox.call(municipality.pk) == 4
    outcomes = dict(WebhookEvent.objects.values_list("event_id", "outcome"))
    assert outcomes[sent[2]["webhookEventId"]] == EventOutcome.FAILED
    assert [outcomes[e["webhookEventId"]] for n, e in enumerate(sent) if n != 2] == [EventOutcome.HANDLED] * 3
    assert all(PLATFORM.bot_messages(municipality.code, USERS[n]) for n in (0, 1, 3))
    assert not PLATFORM.bot_messages(municipality.code, USERS[2])
    assert not WebhookEvent.objects.filter(answer__isnull=False).exists()


def test_a_drain_stops_at_its_limit_and_wakes_another_run_for_the_rest(channel, municipality, monkeypatch,
                                                                         settings):
    settings.TASKS = DB_BACKEND  # the task is recorded, not run: the test drains by hand
    from django_tasks_db.models import DBTaskResult

    monkeypatch.setattr(line_tasks, "DRAIN_BATCH", 2)
    monkeypatch.setattr(line_tasks, "DRAIN_EVENTS", 3)
    deliver(municipality.code, *[event("message", USERS[n], message={"type": "text", "id": str(n), "text": "申請"})
                                 for n in range(6)])
    DBTaskResult.objects.all().delete()
    assert line_tasks.drain_inbox.call(municipality.pk) == 4  # two batches of two reach the limit of three
    assert WebhookEvent.objects.filter(processed_at=None).count() == 2
    woken = DBTaskResult.objects.get()
    assert woken.task_path.endswith("drain_inbox") and woken.args_kwargs["args"] == [municipality.pk]
    assert line_tasks.drain_inbox.call(municipality.pk) == 2
    assert all(PLATFORM.bot_messages(municipality.code, user) for user in USERS)


def test_events_of_one_user_are_handled_and_answered_in_the_order_they_were_sent(channel, municipality):
    user = USERS[0]
    first = event("message", user, message={"type": "text", "id": "1", "text": "証明書の申請"})
    others = [event("message", USERS[n], message={"type": "text", "id": str(n), "text": "申請"}) for n in (1, 2, 3)]
    second = event("message", user, message={"type": "text", "id": "9", "text": "やめる"})
    deliver(municipality.code, first, *others, second)  # one delivery: one batch
    said = [m.get("text", m.get("altText", "")) for m in PLATFORM.bot_messages(municipality.code, user)]
    # The answers to 証明書の申請 (its first question) come before the answer to やめる.
    assert len(said) >= 2 and said[-1].startswith("申請をやめました")
    assert not any(text.startswith("申請をやめました") for text in said[:-1])


def test_answers_to_several_users_go_out_side_by_side_and_each_is_cleared(channel, municipality, monkeypatch):
    import threading

    seen = set()
    real = line_tasks._send

    def send(api, *args, **kwargs):
        seen.add(threading.current_thread().name)
        return real(api, *args, **kwargs)

    monkeypatch.setattr(line_tasks, "_send", send)
    deliver(municipality.code, *[event("message", user, message={"type": "text", "id": "1", "text": "申請"})
                                 for user in USERS])
    assert all(PLATFORM.bot_messages(municipality.code, user) for user in USERS)
    assert any(name.startswith("line-answer") for name in seen)
    assert not WebhookEvent.objects.filter(answer__isnull=False).exists()


def test_redis_clients_are_shared_within_a_process(rq):
    import django_rq

    assert django_rq.get_queue("line").connection is django_rq.get_queue("line").connection
    assert django_rq.get_connection("line") is django_rq.get_queue("line").connection


def test_a_line_client_is_kept_per_municipality_and_replaced_when_its_token_rotates(channel, municipality):
    from madoguchi.line.account import messaging_api
    from madoguchi.tenancy import vault

    with messaging_api(channel) as first, messaging_api(channel) as again:
        assert first.api_client is again.api_client
    vault.set_secret(municipality, "LINE_ACCESS_TOKEN", "rotated-token-" + "x" * 20)
    with messaging_api(channel) as rotated:
        assert rotated.api_client is not first.api_client
        assert rotated.api_client.configuration.access_token.startswith("rotated-token-")


def test_a_batch_holds_its_known_users_so_their_later_events_wait_for_it(channel, municipality, monkeypatch,
                                                                          settings):
    """Another worker's claim of a later event of a user in this batch waits for the batch (PostgreSQL
    row locks; SQLite runs one writer at a time anyway)."""
    import threading

    from django.db import DatabaseError, connection

    from madoguchi.line.models import LineUser

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    settings.TASKS = DB_BACKEND
    deliver(municipality.code, event("follow", USERS[1]))  # a known user
    line_tasks.drain_inbox.call(municipality.pk)
    deliver(municipality.code, event("message", USERS[0], message={"type": "text", "id": "1", "text": "申請"}),
            event("message", USERS[1], message={"type": "text", "id": "2", "text": "申請"}))
    handling, release = threading.Event(), threading.Event()
    real = line_tasks.handle_event

    def handle_event(account, payload, users=None):
        if payload.get("source", {}).get("userId") == USERS[0]:
            handling.set()
            release.wait(10)  # the batch is busy with its first event
        return real(account, payload, users)

    monkeypatch.setattr(line_tasks, "handle_event", handle_event)
    drain = _start_worker(municipality.pk)
    try:
        assert handling.wait(10)
        with pytest.raises(DatabaseError), transaction.atomic():
            LineUser.objects.select_for_update(nowait=True).get(municipality=municipality, user_id=USERS[1])
    finally:
        release.set()
        drain.join(10)
    assert not WebhookEvent.objects.filter(processed_at=None).exists()


def test_a_batch_costs_a_fixed_number_of_statements_however_many_new_users_it_holds(channel, municipality,
                                                                                      settings, monkeypatch):
    """Users, their conversations and the municipality's offering are read once per batch: handling
    ten greetings from new users takes no more statements than handling two. (The answers are taken
    at the door: on SQLite the emulator's own statements would count here too.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from madoguchi.line.models import LineUser

    settings.TASKS = DB_BACKEND
    answered = []
    monkeypatch.setattr(line_tasks, "_send", lambda api, account, event_id, *args, **kwargs: (
        answered.append(event_id), "replied")[1])

    def drain(users: list[str]) -> int:
        deliver(municipality.code, *[event("message", user, message={"type": "text", "id": "1", "text": "こんにちは"})
                                     for user in users])
        with CaptureQueriesContext(connection) as queries:
            assert line_tasks.drain_inbox.call(municipality.pk) == len(users)
        return len(queries)

    few = drain(["U" + "1" * 31 + c for c in "ab"])
    many = drain(["U" + "2" * 31 + c for c in "abcdefghij"])
    assert many == few
    assert LineUser.objects.filter(municipality=municipality).count() == len(answered) == 12
    assert not WebhookEvent.objects.filter(answer__isnull=False).exists()


def test_a_new_users_second_event_in_a_batch_finds_what_the_first_one_did(channel, municipality, settings):
    """Two events of one new user in one batch: the first starts an application, the second answers its
    first question (the user is new for the first event only)."""
    from madoguchi.line.models import Conversation, LineUser

    settings.TASKS = DB_BACKEND
    user = USERS[0]
    deliver(municipality.code,
            event("follow", user),
            event("message", user, message={"type": "text", "id": "1", "text": "証明書の申請"}),
            event("message", user, message={"type": "text", "id": "2", "text": "住民票の写し"}))
    assert line_tasks.drain_inbox.call(municipality.pk) == 3
    line_user = LineUser.objects.get(municipality=municipality, user_id=user)
    assert line_user.following
    conversation = Conversation.objects.get(line_user=line_user)
    assert conversation.answers.get("certificate_type") == "residence_certificate"
    said = [m.get("text", "") for m in PLATFORM.bot_messages(municipality.code, user)]
    assert said[0].startswith(f"{municipality.full_name}の公式アカウント") and any("始めます" in s for s in said)


def test_the_offering_is_read_once_per_batch_and_afresh_for_the_next(channel, municipality, settings):
    """The LINE channel closed by a manager between two batches is closed for the next batch."""
    from madoguchi.catalog.models import CatalogSettings, RequestChannelOffered

    settings.TASKS = DB_BACKEND
    deliver(municipality.code, event("message", USERS[0], message={"type": "text", "id": "1", "text": "申請"}))
    line_tasks.drain_inbox.call(municipality.pk)
    assert "始めます" in PLATFORM.bot_messages(municipality.code, USERS[0])[0]["text"]
    CatalogSettings.objects.update_or_create(municipality=municipality,
                                             defaults={"request_channels": [RequestChannelOffered.WEB]})
    deliver(municipality.code, event("message", USERS[1], message={"type": "text", "id": "2", "text": "申請"}))
    line_tasks.drain_inbox.call(municipality.pk)
    assert "受け付けていません" in PLATFORM.bot_messages(municipality.code, USERS[1])[0]["text"]


def test_the_webhooks_account_lookup_is_kept_briefly_and_forgotten_when_the_account_changes(channel, municipality,
                                                                                             settings):
    """Which municipality a code belongs to is kept per process for a few seconds; a deactivated account
    is refused at once in the process that saved it, and made-up codes are never kept."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from madoguchi.line import account as line_account

    settings.TASKS = DB_BACKEND
    greeting = event("message", USERS[0], message={"type": "text", "id": "1", "text": "申請"})
    assert deliver(municipality.code, greeting).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert line_account.active_account_municipality(municipality.code) == municipality.pk
    assert not any("line_lineaccount" in q["sql"] for q in queries)
    channel.active = False
    channel.save(update_fields=["active"])
    assert deliver(municipality.code, event("message", USERS[1], message={"type": "text", "id": "2", "text": "申請"})
                   ).status_code == 404
    for n in range(50):
        assert deliver(f"99{n:04d}", event("follow", USERS[2])).status_code == 404
    assert set(line_account._accounts) <= {municipality.code}


def test_a_users_next_event_claimed_by_another_worker_waits_for_the_earlier_one(channel, municipality,
                                                                                  monkeypatch, settings):
    """A new user's two quick events land in two batches of two workers. The second worker may not
    handle the later event before the first worker, which claimed the earlier one, has handled it:
    the answer to 住民票の写し needs the application that 証明書の申請 starts (PostgreSQL; SQLite
    runs one writer at a time)."""
    import threading
    import time

    from django.db import connection

    from madoguchi.line.models import Conversation, LineUser

    if connection.vendor != "postgresql":
        pytest.skip("two workers side by side need PostgreSQL")
    settings.TASKS = DB_BACKEND
    monkeypatch.setattr(line_tasks, "DRAIN_BATCH", 1)
    user = USERS[0]
    first = event("message", user, message={"type": "text", "id": "1", "text": "証明書の申請"})
    deliver(municipality.code, first)
    deliver(municipality.code, event("message", user, message={"type": "text", "id": "2", "text": "住民票の写し"}))
    claimed_first, release = threading.Event(), threading.Event()
    real = line_tasks._batch_users

    def batch_users(account, events):
        if any(e.event_id == first["webhookEventId"] for e in events):
            claimed_first.set()
            release.wait(10)  # the first worker stops between its claim and locking the user
        return real(account, events)

    monkeypatch.setattr(line_tasks, "_batch_users", batch_users)

    workers = [_start_worker(municipality.pk)]
    try:
        assert claimed_first.wait(10)
        workers.append(_start_worker(municipality.pk))
        time.sleep(0.5)  # room for the second worker to overtake, were it able to
    finally:
        release.set()
        for worker in workers:
            worker.join(20)
    assert not WebhookEvent.objects.filter(processed_at=None).exists()
    conversation = Conversation.objects.get(line_user=LineUser.objects.get(municipality=municipality, user_id=user))
    assert conversation.answers.get("certificate_type") == "residence_certificate"
    said = [m.get("text", "") for m in PLATFORM.bot_messages(municipality.code, user)]
    assert "始めます" in said[0]
