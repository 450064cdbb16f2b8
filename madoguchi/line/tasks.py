"""Working through the webhook inbox: one event at a time per user, each event once."""

import datetime
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task
from linebot.v3.messaging import ApiException, Message, MessagingApi, PushMessageRequest, ReplyMessageRequest

from madoguchi.applications import actions
from madoguchi.applications.models import RESIDENT_CANCELLABLE, RequestChannel, State
from madoguchi.catalog import services as catalog
from madoguchi.core.throttle import tally
from madoguchi.operations import queues

from . import conversation
from .account import REQUEST_TIMEOUT, messaging_api
from .conversation import Input, parse_postback, postback, text
from .models import (
    Conversation,
    EventOutcome,
    FriendDaily,
    LineAccount,
    LineUser,
    RequestBinding,
    WebhookEvent,
)

logger = logging.getLogger(__name__)


@task(queue_name="line")
def process_events(municipality_id: int, event_ids: list[str]) -> int:
    """Handle these events (housekeeping's process_stale names them); see `_process`."""
    account = LineAccount.objects.select_related("municipality").get(municipality_id=municipality_id)
    return sum(1 for event_id in event_ids if _process(account, event_id) is not None)


# A drain takes pending events in batches of DRAIN_BATCH, and stops after DRAIN_EVENTS events or
# DRAIN_SECONDS, waking another run if events are left, so one job stays far inside the line queue's
# lease (settings.TASK_QUEUES) and other municipalities get a turn.
DRAIN_BATCH, DRAIN_EVENTS, DRAIN_SECONDS = 10, 200, 10.0


def wake_key(municipality_id: int) -> str:
    return f"line-inbox:{municipality_id}"


def wake_drain(municipality_id: int) -> None:
    """After the webhook recorded events (once its transaction commits): a drain of the inbox."""
    queues.wake(drain_inbox, wake_key(municipality_id), municipality_id)


@task(queue_name="line")
def drain_inbox(municipality_id: int) -> int:
    """Handle the municipality's pending events, oldest first, in batches claimed with SKIP LOCKED so
    several workers drain side by side (`_drain_batch`). Enqueued through `queues.wake`: under a burst
    one job handles many events instead of one job per delivery."""
    queues.woken(drain_inbox, wake_key(municipality_id))
    account = (LineAccount.objects.select_related("municipality")
               .filter(municipality_id=municipality_id).first())
    if account is None:
        return 0
    handled, deadline = 0, time.monotonic() + DRAIN_SECONDS
    while handled < DRAIN_EVENTS and time.monotonic() < deadline:
        done = _drain_batch(account)
        if not done:
            return handled
        handled += done
    wake_drain(municipality_id)  # stopped with events perhaps left
    return handled


def _drain_batch(account: LineAccount) -> int:
    """Claim up to DRAIN_BATCH pending events no other worker holds, handle them in order in one
    transaction, then send their answers (`send_pending_answers`); returns how many were claimed.

    One transaction for the batch instead of one per event: a LINE event costs a handful of statements,
    and the round trips of a transaction per event (begin, claim, mark, commit) were as many again. If
    any handler fails — or the database breaks a deadlock between two batches waiting for each other's
    users — the whole batch is rolled back and its events are handled one by one (`_process`), so only
    the failing one is marked failed."""
    claimed: list[str] = []
    claiming = False
    try:
        with transaction.atomic():
            claiming = _claim_lock(account, take=True)
            events = list(WebhookEvent.objects.select_for_update(skip_locked=True)
                          .filter(municipality_id=account.municipality_id, processed_at=None)
                          .order_by("id")[:DRAIN_BATCH])
            claimed.extend(event.event_id for event in events)
            users = _batch_users(account, events)
            if claiming:
                claiming = _claim_lock(account, take=False)
            now = timezone.now()
            with catalog.settings_remembered():
                for event in events:
                    event.outcome, replies = handle_event(account, event.payload, users)
                    event.processed_at = now
                    event.answer = pending_answer(event.payload, replies)
                    event.payload = minimised(event.payload)
            _save_handled(events)
    except Exception:  # every handler's writes are rolled back with the transaction
        if claiming:
            claiming = _claim_lock(account, take=False)
        if not claimed:
            raise  # nothing claimed (the database is gone): the events stay pending
        logger.warning("LINE batch of %s events failed; handling them one by one", len(claimed), exc_info=True)
        for event_id in claimed:
            _process(account, event_id)
        return len(claimed)
    finally:
        if claiming:  # interrupted between the claim and its users: the transaction is gone, the lock is not
            _claim_lock(account, take=False)
    send_pending_answers(account, [event.pk for event in events if event.answer is not None], retried=False)
    return len(events)


# pg_advisory_lock(CLAIM_LOCK, municipality id): see _claim_lock. The first key says "LINE".
CLAIM_LOCK = 0x4C494E45


def _claim_lock(account: LineAccount, *, take: bool) -> bool:
    """Take (or give back) the municipality's claim lock; returns whether it is now held.

    A batch claims its events and then locks their users, two statements apart; without this lock a
    second worker could claim a user's next event and lock the user in between, and handle that event
    before the first one (a resident's two quick taps answered in the wrong order). Held from the
    claim until the users are locked, so whoever claims earlier events also locks their users first,
    and a later event of the same user waits for the earlier batch (a new user's row too: the second
    insert waits for the first one's commit). A session lock (not a transaction lock), so the rest of
    the batch runs beside other workers' claims. PostgreSQL only: SQLite runs one writer at a time."""
    if connection.vendor != "postgresql":
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)" if take else "SELECT pg_advisory_unlock(%s, %s)",
                           [CLAIM_LOCK, account.municipality_id])
    except DatabaseError:
        if take:
            raise
        logger.warning("LINE claim lock of municipality %s not given back", account.municipality_id)
    return take


HANDLED_FIELDS = ("outcome", "processed_at", "payload", "answer")


def _save_handled(events: list[WebhookEvent]) -> None:
    """Write a handled batch back: one UPDATE per event, sent together (executemany; psycopg pipelines
    them). Django's bulk_update builds a CASE per field and row, which cost the worker more CPU than
    handling the events themselves."""
    if not events:
        return
    fields = [WebhookEvent._meta.get_field(name) for name in HANDLED_FIELDS]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    rows = [[field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields] + [event.pk]
            for event in events]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {quote(WebhookEvent._meta.db_table)} SET {sets} WHERE {quote('id')} = %s", rows)


def _batch_users(account: LineAccount, events: list[WebhookEvent]) -> dict[str, list]:
    """The users of a batch, locked (`_lock_users`)."""
    return _lock_users(account, [user[:40] for event in events
                                 if isinstance(user := _source_user(event.payload), str) and user])


def _lock_users(account: LineAccount, user_ids: list[str]) -> dict[str, list]:
    """These users, locked, in at most three statements however many: events of one user are handled
    one after another across processes. The known ones are locked first, in one order, so a later event
    of one of them claimed by another worker waits for this batch instead of overtaking the earlier one
    still waiting its turn in it, and two batches never lock the same users in opposite orders; the new
    ones are inserted (ON CONFLICT DO NOTHING, in the same order: no savepoint, and the insert waits for
    another worker's commit of the same user) and locked.

    Maps a user id to [user, new]. New means this run inserted the row: one read back with another
    creation time than the one stamped here was inserted by another worker, whose batch may have
    started the user's conversation. `handle_event` clears `new` after the user's first event."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = LineUser.objects.select_for_update().filter(municipality_id=account.municipality_id)
    users = {user.user_id: [user, False] for user in rows.filter(user_id__in=ids).order_by("user_id")}
    missing = [user_id for user_id in ids if user_id not in users]
    if missing:
        fresh = [LineUser(municipality_id=account.municipality_id, user_id=user_id) for user_id in missing]
        LineUser.objects.bulk_create(fresh, ignore_conflicts=True)
        stamps = {user.user_id: user.created_at for user in fresh}
        users.update((user.user_id, [user, user.created_at == stamps[user.user_id]])
                     for user in rows.filter(user_id__in=missing).order_by("user_id"))
    return users


def _source_user(payload: dict):
    source = payload.get("source") or {}
    return source.get("userId") if isinstance(source, dict) and source.get("type") == "user" else None


def _process(account: LineAccount, event_id: str) -> str | None:
    """Handle one event once and answer it at least once. Returns its id, or None when there was
    nothing to do (a redelivery, another worker got it first).

    Two transactions: the first handles the event, marks it processed and keeps the answer to send on
    it (`answer`); the second, holding the event's row lock, sends that answer and clears it. A run that
    dies between the two (a killed worker) leaves the answer on the event, and the next run for it (the
    job re-queued after its lease, housekeeping's process_stale) sends it: by reply while the token
    lives, which LINE refuses when the first attempt had arrived (a reply token is used once), else by
    push with a retry key derived from the event. (A batch of `_drain_batch` goes the same way.)"""
    try:
        found = _handle(account, event_id)
    except Exception:  # the handler's writes are rolled back with its transaction
        logger.exception("LINE event %s failed", event_id)
        found = _handle(account, event_id, failed=True)
    if found is None:
        return None
    event, retried = found
    if event.answer is not None:
        send_pending_answers(account, [event.pk], retried=retried)
    return event.event_id


def _handle(account: LineAccount, event_id: str, *, failed: bool = False) -> tuple[WebhookEvent, bool] | None:
    """In one transaction holding the event's row lock: handle it (or, `failed`, record that handling
    failed), mark it processed and keep the answer on it. Returns the event and whether its answer was
    kept by an earlier run (which may have died while answering), or None when there is nothing to do."""
    with transaction.atomic():
        event = (WebhookEvent.objects.select_for_update()
                 .filter(municipality_id=account.municipality_id, event_id=event_id).first())
        if event is None:
            return None
        if event.processed_at is not None:
            return (event, True) if event.answer is not None else None
        outcome, replies = (EventOutcome.FAILED, []) if failed else handle_event(account, event.payload)
        event.outcome = outcome
        event.processed_at = timezone.now()
        event.answer = pending_answer(event.payload, replies)
        event.payload = minimised(event.payload)
        event.save(update_fields=["outcome", "processed_at", "payload", "answer"])
    return event, False


def pending_answer(payload: dict, replies: list[Message]) -> dict | None:
    """What answering needs once the payload is minimised: kept only until LINE has the answer."""
    if not replies:
        return None
    sent_at_ms = payload.get("timestamp")
    return {"reply_token": str(payload.get("replyToken", "")),
            "to": str((payload.get("source") or {}).get("userId", "")),
            "sent_at_ms": sent_at_ms if isinstance(sent_at_ms, int) and not isinstance(sent_at_ms, bool) else 0,
            "messages": [m.to_dict() for m in replies]}


def send_pending_answers(account: LineAccount, event_pks: list[int], *, retried: bool) -> list[str]:
    """Send the answers kept on these events under their row locks (so two runs never send one at
    once), then clear them. Returns how each went (see `answer`), in event order; an event whose answer
    another run had already sent is left out.

    Answers to different users go out side by side (`SENDERS` at a time), each user's in order: LINE
    answers a call in tens of milliseconds from a Japanese cloud region, so a worker sending a batch's
    answers one after another could not keep up with a burst however fast it handled the events."""
    if not event_pks:
        return []
    with transaction.atomic():
        events = list(WebhookEvent.objects.select_for_update().filter(pk__in=event_pks, answer__isnull=False)
                      .order_by("id").only("id", "event_id", "answer"))
        by_user: dict[str, list[WebhookEvent]] = {}
        for event in events:
            by_user.setdefault(str(event.answer.get("to", "")) or f"event:{event.pk}", []).append(event)
        with messaging_api(account) as api:
            def send_all(own: list[WebhookEvent]) -> list[tuple[int, str]]:
                return [(event.pk, _send_kept(api, account, event, retried)) for event in own]

            if len(by_user) == 1:
                sent = dict(send_all(events))
            else:
                sent = dict(pair for pairs in _senders().map(send_all, by_user.values()) for pair in pairs)
        WebhookEvent.objects.filter(pk__in=[event.pk for event in events]).update(answer=None)
    hows = [sent[event.pk] for event in events]
    _count(hows)
    return hows


def _count(hows: list[str]) -> None:
    """Answers that could not go as a reply are counted (the LINE figures of /metrics)."""
    for how in hows:
        if how in {"pushed", "lost"}:
            tally(f"line:answer_{how}")


SENDERS = 8
_sender_pools: dict[int, ThreadPoolExecutor] = {}


def _senders() -> ThreadPoolExecutor:
    """This process's threads for LINE calls (a forked child gets its own). They never touch the
    database: the client and everything an answer needs are read before."""
    pool = _sender_pools.get(os.getpid())
    if pool is None:
        pool = _sender_pools[os.getpid()] = ThreadPoolExecutor(SENDERS, thread_name_prefix="line-answer")
    return pool


def _send_kept(api: MessagingApi, account: LineAccount, event: WebhookEvent, retried: bool) -> str:
    kept = event.answer
    try:
        messages = [Message.from_dict(m) for m in kept.get("messages") or []]
    except Exception:  # not what pending_answer wrote: nothing sendable
        logger.exception("LINE answer to event %s unreadable", event.event_id)
        return "lost"
    if not messages:
        return "lost"
    return _send(api, account, event.event_id, str(kept.get("reply_token", "")), str(kept.get("to", "")),
                 kept.get("sent_at_ms") if isinstance(kept.get("sent_at_ms"), int) else 0, messages, retried=retried)


# What stays of an event once handled: enough to recognise a redelivery and count event types; not
# what the resident typed (names, 本籍), the user id or the reply token (個人情報保護法 第23条: personal
# data kept only while needed for its purpose; the request itself holds what the procedure needs).
KEPT_FIELDS = ("type", "webhookEventId", "timestamp", "mode", "deliveryContext")


def minimised(payload: dict) -> dict:
    return {key: payload[key] for key in KEPT_FIELDS if key in payload}


def purge_events() -> int:
    """Delete handled events after settings.LINE_EVENT_RETENTION (housekeeping). LINE redelivers an
    event within a much shorter time, so the dedup key is no longer needed by then."""
    cutoff = timezone.now() - settings.LINE_EVENT_RETENTION
    return WebhookEvent.objects.filter(processed_at__lt=cutoff).delete()[0]


def process_stale(older_than: datetime.timedelta = datetime.timedelta(minutes=2), limit: int = 500) -> int:
    """Safety net run by housekeeping: events still pending after `older_than` (a lost task, a worker
    that died mid-way), or handled with their answer not yet sent, are handled or answered now;
    handling is idempotent per event."""
    cutoff = timezone.now() - older_than
    pending = (WebhookEvent.objects.filter(Q(processed_at__isnull=True) | Q(answer__isnull=False),
                                           received_at__lt=cutoff)
               .order_by("id").values_list("municipality_id", "event_id")[:limit])
    by_municipality: dict[int, list[str]] = {}
    for municipality_id, event_id in pending:
        by_municipality.setdefault(municipality_id, []).append(event_id)
    return sum(process_events.call(m, ids) for m, ids in by_municipality.items())


# LINE documents a reply token as usable for a short time only (about a minute); past this age the
# answer goes as a push instead of a reply that would be refused.
REPLY_TOKEN_LIFE = datetime.timedelta(seconds=50)
REPLY_RETRY_NAMESPACE = uuid.UUID("0f4b5c1e-7a44-4b8e-8f65-7265706c7921")


def answer(account: LineAccount, event_id: str, reply_token: str, user_id: str, sent_at_ms: int,
           messages: list[Message], *, retried: bool = False) -> str:
    """Send one answer (see `_send`) and count pushes and losses."""
    with messaging_api(account) as api:
        how = _send(api, account, event_id, reply_token, user_id, sent_at_ms, messages, retried=retried)
    _count([how])
    return how


def _send(api: MessagingApi, account: LineAccount, event_id: str, reply_token: str, user_id: str,
          sent_at_ms: int, messages: list[Message], *, retried: bool = False) -> str:
    """Reply while the token lives; otherwise, or if LINE refuses the token, push the same messages
    with an X-Line-Retry-Key derived from the event, so a repeat of this task cannot deliver them
    twice. `retried`: an earlier run may have sent this reply already; LINE then refuses the token
    (used once), and that refusal means the answer arrived, so nothing is pushed. Returns how the
    answer went: replied, pushed, duplicate or lost. Makes HTTP calls only (no database)."""
    try:
        age = timezone.now() - datetime.datetime.fromtimestamp(sent_at_ms / 1000, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):  # a timestamp no calendar holds
        age = REPLY_TOKEN_LIFE
    if reply_token and sent_at_ms and age < REPLY_TOKEN_LIFE:
        try:
            api.reply_message(ReplyMessageRequest(replyToken=reply_token, messages=messages[:5]),
                              _request_timeout=REQUEST_TIMEOUT)
            return "replied"
        except ApiException as exc:
            if exc.status == 400 and retried:
                return "duplicate"  # the token was used: by the earlier run's reply
            if exc.status != 400:  # 400: the token expired or was used; anything else: push too
                logger.warning("LINE reply failed for %s: HTTP %s", account.municipality.code, exc.status)
        except Exception as exc:
            logger.warning("LINE reply failed for %s: %s", account.municipality.code, exc.__class__.__name__)
    if not user_id:
        return "lost"
    retry_key = str(uuid.uuid5(REPLY_RETRY_NAMESPACE, f"{account.municipality_id}:{event_id}"))
    for _attempt in range(3):
        try:
            api.push_message(PushMessageRequest(to=user_id, messages=messages[:5]), x_line_retry_key=retry_key,
                             _request_timeout=REQUEST_TIMEOUT)
            return "pushed"
        except ApiException as exc:
            if exc.status == 409:
                return "duplicate"  # this answer was pushed before (a repeated task)
            if exc.status is not None and exc.status < 500 and exc.status != 429:
                break
        except Exception as exc:
            logger.warning("LINE push failed for %s: %s", account.municipality.code, exc.__class__.__name__)
    logger.warning("LINE answer to event %s lost", event_id)
    return "lost"


def _count_friend(account: LineAccount, field: str) -> None:
    day = timezone.localdate()
    FriendDaily.objects.get_or_create(municipality=account.municipality, day=day)
    FriendDaily.objects.filter(municipality=account.municipality, day=day).update(**{field: F(field) + 1})


def handle_event(account: LineAccount, event: dict, users: dict[str, list] | None = None) -> tuple[str, list[Message]]:
    """Handle one event; `users`: its batch's users, locked (`_batch_users`); else its user is locked here."""
    kind = event.get("type")
    user_id = _source_user(event)
    if kind not in {"follow", "unfollow", "message", "postback"} or not isinstance(user_id, str) or not user_id:
        return EventOutcome.IGNORED, []
    known = (users or {}).get(user_id[:40]) or _lock_users(account, [user_id[:40]])[user_id[:40]]
    (user, new), known[1] = known, False  # the user's next event in the batch finds them known
    if kind == "unfollow":
        user.following = False
        user.blocked_at = timezone.now()
        user.save(update_fields=["following", "blocked_at"])
        _count_friend(account, "unfollows")
        return EventOutcome.HANDLED, []
    if kind == "follow":
        user.following = True
        user.blocked_at = None
        user.save(update_fields=["following", "blocked_at"])
        _count_friend(account, "follows")
        return EventOutcome.HANDLED, [text(
            _("{name}の公式アカウントです。友だち追加ありがとうございます。"
              "住民票の写しなどの証明書を、LINEから申請して郵送で受け取れます。").format(
                name=account.municipality.full_name), [(_("証明書の申請"), postback("start"))])]
    if kind == "message":
        message = event.get("message") or {}
        if message.get("type") != "text":
            return EventOutcome.HANDLED, [text(_("文字かボタンでお答えください。"))]
        given = Input(text=str(message.get("text", ""))[:500])
    else:
        given = Input(data=parse_postback(str((event.get("postback") or {}).get("data", ""))))
    return EventOutcome.HANDLED, dispatch(account, user, given, new=new)


def dispatch(account: LineAccount, user: LineUser, given: Input, *, new: bool = False) -> list[Message]:
    action = (given.data or {}).get("a", "")
    typed = given.text.strip()
    # A user seen for the first time has no conversation yet; a user has at most one.
    current = None if new else Conversation.objects.filter(line_user=user).first()
    if current is not None and current.procedure == SURVEY_COMMENT:
        current.delete()
        if typed and not action and typed not in COMMANDS:
            return survey_comment(user, current.answers, typed)
        current = None
    if action == "nocomment":
        return [text(_("ご回答ありがとうございました。"))]
    if action == "survey":
        return answer_survey(user, given.data)
    if action == "receipt":
        return confirm_receipt(user, given.data)
    if action in {"cancel", "cancel_confirm"}:
        return cancel(user, given.data, confirmed=action == "cancel_confirm")
    if action in {"link", "nolink"}:
        return link(user, given.data) if action == "link" else [text(_("連携しませんでした。"))]
    if typed == "連携解除":
        return unlink(user)
    if typed == "申請状況" or action == "status":
        return conversation.status_messages(account, user)
    if typed in {"申請一覧", "申請の一覧"} or action == "list":
        return conversation.list_messages(account, user)
    return conversation.Engine(account, user, current).handle(given)


# Words that are commands, never a survey comment.
COMMANDS = {"連携解除", "申請状況", "申請一覧", "申請の一覧", "証明書の申請", "申請", "しんせい", "やり直す", "やめる"}
# The conversation row that waits for the optional comment after a satisfaction score.
SURVEY_COMMENT = "survey_comment"


def _own_request(user: LineUser, data: dict):
    """A request started from this LINE account (its binding), named by the public id in a postback."""
    try:
        public_id = uuid.UUID(str(data.get("r", "")))
    except ValueError:
        return None
    binding = (RequestBinding.objects.filter(municipality_id=user.municipality_id, line_user=user,
                                             request__public_id=public_id)
               .select_related("request__municipality").first())
    return binding.request if binding else None


def answer_survey(user: LineUser, data: dict) -> list[Message]:
    request = _own_request(user, data)
    if request is None:
        return [text(_("このアンケートには回答できません。"))]
    try:
        actions.answer_survey(request, score=data.get("v", ""), channel=RequestChannel.LINE)
    except actions.ActionError as exc:
        return [text(str(exc))]
    if Conversation.objects.filter(line_user=user).exists():
        # An application in progress keeps its place: no comment is asked for then.
        return [text(_("ご回答ありがとうございました。今後のサービス改善に役立てます。"))]
    Conversation.objects.create(municipality=user.municipality, line_user=user, procedure=SURVEY_COMMENT,
                                step="comment", answers={"r": str(request.public_id)}, updated_at=timezone.now())
    return [text(_("ご回答ありがとうございました。ご意見があれば、このまま文字で送ってください(任意)。"),
                 [(_("送らない"), postback("nocomment"))])]


def survey_comment(user: LineUser, answers: dict, comment: str) -> list[Message]:
    request = _own_request(user, answers)
    if request is None:
        return [text(_("このアンケートには回答できません。"))]
    try:
        actions.add_survey_comment(request, comment)
    except actions.ActionError as exc:
        return [text(str(exc))]
    return [text(_("ご意見ありがとうございました。今後のサービス改善に役立てます。"))]


def confirm_receipt(user: LineUser, data: dict) -> list[Message]:
    request = _own_request(user, data)
    if request is None:
        return [text(_("この申請の受け取りは、申請したLINEアカウントからのみ確認できます。"))]
    if request.state == State.COMPLETED:
        return [text(_("この申請の受け取りはすでに確認済みです。ありがとうございました。"))]
    try:
        actions.confirm_receipt(request, channel=RequestChannel.LINE)
    except actions.ActionError as exc:
        return [text(str(exc))]
    return [text(_("受け取りを確認しました。ありがとうございました。"))]  # the 完了 notice and survey follow


def cancel(user: LineUser, data: dict, *, confirmed: bool) -> list[Message]:
    """Cancelling from the account the request came from: asked once more before it is done."""
    request = _own_request(user, data)
    if request is None:
        return [text(_("この申請は、申請したLINEアカウントからのみ取り消せます。"))]
    if not confirmed:
        if request.state not in RESIDENT_CANCELLABLE:
            return [text(_("この申請は現在「{state}」のため、取り消せません。").format(
                state=request.get_state_display()))]
        number = request.formatted_reception_number or _("受付前")
        return [text(_("受付番号 {number} の申請を取り消しますか?お支払い済みの金額は返金します。").format(
            number=number), [(_("取り消す"), postback("cancel_confirm", r=str(request.public_id))),
                             (_("取り消さない"), postback("status"))])]
    try:
        actions.cancel_from_line(request)
    except actions.ActionError as exc:
        return [text(str(exc))]
    return [text(_("申請を取り消しました。"))]


def link(user: LineUser, data: dict) -> list[Message]:
    """Only a request whose signer the JPKI check matched to the replica can link the account."""
    request = _own_request(user, data)
    if request is None or request.resident_id is None or not request.evidences.filter(
            municipality_id=request.municipality_id).exists():
        return [text(_("連携できませんでした。マイナンバーカードで署名した申請からのみ連携できます。"))]
    user.resident_id = request.resident_id
    user.linked_at = timezone.now()
    user.save(update_fields=["resident", "linked_at"])
    return [text(_("LINEアカウントと住民情報を連携しました。解除するときは「連携解除」と送ってください。"))]


def unlink(user: LineUser) -> list[Message]:
    if user.resident_id is None:
        return [text(_("連携している住民情報はありません。"))]
    user.resident = None
    user.linked_at = None
    user.save(update_fields=["resident", "linked_at"])
    return [text(_("LINEアカウントと住民情報の連携を解除しました。"))]
