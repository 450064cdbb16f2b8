"""`make soak`: the load and fault harness (issue 17, item 9). Loopback only, bounded in time.

    SOAK_SECONDS=600 python -m madoguchi.bench.soak        (make soak; SOAK_SECONDS defaults to 600)

Needs the local PostgreSQL server (127.0.0.1:5432, `MADOGUCHI_SOAK_PG_URL`) and Redis (127.0.0.1:6379):
it creates a scratch database, runs gunicorn, `manage.py workers` (django-tasks-rq) and
`manage.py scheduler` against it (bench/_stack.py) and drops the database at the end.

An open-loop load at fixed rates (a request is sent at its scheduled time whether or not earlier
ones were answered; rates in RATES, each overridable with SOAK_RATE_<NAME>):
- resident pages: the municipality's home page;
- status lookups: the status form (GET, then POST with the CSRF token);
- LINE events: a signed text-message event per new LINE user, delivered like LINE does (redelivered
  with `isRedelivery` and the same id when our server did not answer 200); the reply token is issued
  by the LINE Platform emulator, which runs in this process and records every reply and push;
- payments: a request is drafted, signed with a sandbox card and sent to the sandbox gateway (half
  of them from LINE, bound to a LINE user, half from the web with an e-mail address), the gateway
  captures it and sends its signed notification through the providers queue, and the harness
  delivers the same notification a second time itself, as providers redeliver;
- clerk actions: a paid request is approved (the certificate is rendered) or rejected (which refunds),
  through the workflow actions the back office calls.
During the run one worker of the `line`, `notices` and `providers` queues is SIGKILLed (with the
work horse running its job, if it forked one) and one gunicorn worker is SIGKILLed; `manage.py workers` and the
gunicorn master start new ones.

After the load stops the harness waits until the queues are empty and every request, refund, notice
and LINE answer has settled (at most SOAK_DRAIN_SECONDS, default 480: a killed job is retried after
its queue's lease, 300 s for providers), then counts what was lost or duplicated:
- each LINE event our server accepted: exactly one answer arrived at LINE (a reply with its token or
  a push to its user); an event our server never accepted counts as lost;
- each request paid: exactly one 受付 event and one captured payment; each decision exactly one
  approved or rejected event; a rejected request exactly one refund, done, for the whole amount, one
  refund at the gateway, the charge refunded once and exactly one 返金 event;
- notices: 受付 for each paid request, 却下 and 返金 for each rejected one exist, each sent; each
  LINE notice pushed with exactly one accepted retry key; each e-mail notice exactly one message in
  the mail directory. E-mail notices left `uncertain` (reported to staff, never resent) are listed apart.

It prints `BENCH soak_lost_or_duplicated <n> items` and exits 1 when n > 0.
"""

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from madoguchi.bench import _stack

RATES = {"pages": 4.0, "status": 1.0, "line": 5.0, "payments": 0.5, "clerk": 0.4}
# When each fault happens, as a fraction of the run.
FAULTS = [(0.2, "worker", "line"), (0.4, "worker", "notices"), (0.5, "web", ""), (0.6, "worker", "providers")]
TIMEOUT = 10.0


def fault_plan() -> list[tuple[float, str, str]]:
    """SOAK_FAULTS="0.2:worker:line,0.5:web" overrides FAULTS (fraction of the run, what, queue)."""
    spec = os.environ.get("SOAK_FAULTS")
    if spec is None:
        return FAULTS
    out = []
    for item in filter(None, spec.split(",")):
        at, what, *queue = item.split(":")
        out.append((float(at), what, queue[0] if queue else ""))
    return out


def rates() -> dict[str, float]:
    return {name: float(os.environ.get(f"SOAK_RATE_{name.upper()}", rate)) for name, rate in RATES.items()}


@dataclass
class LineSent:
    user: str
    token: str
    scheduled: float
    accepted: bool = False
    attempts: int = 0


@dataclass
class Paid:
    request_id: int
    scheduled: float
    line_user: str = ""
    email: str = ""
    notified: bool = False


@dataclass
class Load:
    """What the driver sent and what came back."""

    stack: "_stack.Stack"
    municipality: object = None
    clerk: object = None
    residents: list = field(default_factory=list)
    line: list[LineSent] = field(default_factory=list)
    paid: list[Paid] = field(default_factory=list)
    decisions: dict[int, str] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    # --- set-up -----------------------------------------------------------------------------------

    def prepare(self, residents: int = 40) -> None:
        from madoguchi.bench import demo
        from madoguchi.line.account import credentials
        from madoguchi.line.models import LineAccount
        from madoguchi.registry.models import Resident

        # The emulator's 409 answers to repeated retry keys are expected here (django.request logs
        # them as warnings); RQ's registry clean-up, run by the backlog check, logs a failing
        # callback of django-tasks-rq for every abandoned job (a known issue, see docs/operations.md).
        logging.getLogger("django.request").setLevel(logging.ERROR)
        logging.getLogger("rq").setLevel(logging.CRITICAL)
        self.municipality, self.clerk = demo()
        LineAccount.objects.get_or_create(municipality=self.municipality, defaults=dict(
            channel_id="2000000001", login_channel_id="2000000002", liff_id="2000000002-soak"))
        self.secret = credentials(self.municipality.code).channel_secret.encode()
        from madoguchi.identity.contrib.sandbox import card as cards

        adults = [r for r in Resident.objects.for_municipality(self.municipality).order_by("id")
                  if r.date_of_birth.year < 1990 and not r.support_measure][:residents]
        for resident in adults:
            cards.issue_card(resident)
        self.residents = list(Resident.objects.filter(pk__in=[r.pk for r in adults]).select_related("sandbox_card"))
        self.code = self.municipality.code

    # --- HTTP -------------------------------------------------------------------------------------

    def http(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        """One request on this thread's keep-alive connection; (status, headers, body), status 0 when
        the connection failed (e.g. the gunicorn worker was killed)."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                "127.0.0.1", self.stack.web_port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body or None, headers or {})
            response = connection.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self.local.connection = None
            return response.status, response, data
        except (OSError, http.client.HTTPException):
            connection.close()
            self.local.connection = None
            return 0, None, b""

    def count(self, stream: str, status: int) -> None:
        with self.lock:
            self.statuses[(stream, status)] += 1

    # --- streams ----------------------------------------------------------------------------------

    def page(self, n: int, scheduled: float) -> None:
        status, _r, _b = self.http("GET", f"/m/{self.code}/")
        self.count("pages", status)

    def status_lookup(self, n: int, scheduled: float) -> None:
        status, response, body = self.http("GET", f"/m/{self.code}/status/")
        self.count("status_form", status)
        if status != 200:
            return
        cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "") or "")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        with self.lock:
            known = self.paid[n % len(self.paid)] if self.paid else None
        number, birth = "1234-5678-9012-3456", "1980-01-01"
        if known is not None:
            from madoguchi.applications.models import CertificateRequest

            request = CertificateRequest.objects.select_related("resident").get(pk=known.request_id)
            number = request.reception_number or number
            birth = request.resident.date_of_birth.isoformat() if request.resident else birth
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1).decode() if token else "",
                                       "reception_number": number, "date_of_birth": birth}).encode()
        csrf = cookie.group(1) if cookie else ""
        status, _r, _b = self.http("POST", f"/m/{self.code}/status/", form, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}",
            "Referer": f"{self.stack.web_url}/m/{self.code}/status/", "Origin": self.stack.web_url})
        self.count("status", status)

    def deliver_line(self, body: dict) -> tuple[bool, int]:
        """Deliver one webhook body as LINE does: redeliver (same id, isRedelivery) until answered 200."""
        for attempt in range(1, 11):
            raw = json.dumps(body, ensure_ascii=False).encode()
            signature = base64.b64encode(hmac.new(self.secret, raw, hashlib.sha256).digest()).decode()
            status, _r, _b = self.http("POST", f"/line/{self.code}/webhook", raw, {
                "Content-Type": "application/json", "X-Line-Signature": signature})
            self.count("line", status)
            if status == 200:
                return True, attempt
            for event in body["events"]:
                event["deliveryContext"] = {"isRedelivery": True}
            time.sleep(1.0)
        return False, 10

    def line_event(self, n: int, scheduled: float) -> None:
        from madoguchi.line.emulator.views import PLATFORM

        user, token = "U" + secrets.token_hex(16), secrets.token_hex(16)
        with PLATFORM.lock:
            PLATFORM.reply_tokens[token] = (self.code, user)
        sent = LineSent(user=user, token=token, scheduled=scheduled)
        with self.lock:
            self.line.append(sent)
        event = {"type": "message", "webhookEventId": "01" + secrets.token_hex(12).upper(),
                 "timestamp": int(time.time() * 1000), "mode": "active",
                 "deliveryContext": {"isRedelivery": False}, "replyToken": token,
                 "source": {"type": "user", "userId": user},
                 "message": {"type": "text", "id": str(n), "text": "こんにちは", "quoteToken": "q"}}
        sent.accepted, sent.attempts = self.deliver_line({"destination": "U" + "0" * 32, "events": [event]})

    def pay(self, n: int, scheduled: float, line_share: int = 2) -> Paid | None:
        """Draft, sign and pay a request; every `line_share`-th request comes from LINE."""
        prepared = self.awaiting_payment(n, line_share)
        return self.capture(prepared) if prepared else None

    def awaiting_payment(self, n: int, line_share: int = 2):
        """A request drafted, signed with a sandbox card and sent to the sandbox gateway: from LINE
        (bound to a new LINE user) or from the web with an e-mail address."""
        from madoguchi.applications import actions
        from madoguchi.applications.signing_terms import canonical_bytes
        from madoguchi.identity.contrib.sandbox import card as cards
        from madoguchi.line.models import LineUser, RequestBinding

        resident = self.residents[n % len(self.residents)]
        from_line = n % line_share == 0
        email = "" if from_line else f"soak-{n}@example.jp"
        try:
            request = actions.create_draft(
                self.municipality, certificate_type="residence_certificate", copies=1, purpose="bank",
                purpose_detail="", postage_class="regular", notice_email=email, channel="line" if from_line else "web",
                options={"scope": "self", "members": "", "show_relationship": True, "show_honseki": False})
            user_id = ""
            if from_line:
                user_id = "U" + secrets.token_hex(16)
                user = LineUser.objects.create(municipality=self.municipality, user_id=user_id)
                RequestBinding.objects.create(municipality=self.municipality, request=request, line_user=user)
            challenge = actions.start_signing(request, return_url="/pay/", retry_url="/sign/")
            certificate, signature = cards.sign(resident.sandbox_card, cards.DEMO_PIN,
                                                canonical_bytes(request, challenge.nonce))
            actions.record_signature(request, nonce=challenge.nonce, certificate=certificate,
                                     signature=signature, provider="sandbox")
            actions.start_payment(request, "/done/")
            return request.payments.get(status="pending"), user_id, email
        except Exception as exc:
            with self.lock:
                self.errors[f"pay: {exc.__class__.__name__}: {str(exc)[:80]}"] += 1
            return None

    def capture(self, prepared) -> Paid | None:
        """The resident pays at the gateway, which notifies us through its task on the providers
        queue; this harness delivers the same notification once more, as providers redeliver."""
        from madoguchi.payments.contrib.sandbox import gateway

        payment, user_id, email = prepared
        paid = Paid(request_id=payment.request_id, scheduled=time.monotonic(), line_user=user_id, email=email)
        with self.lock:
            self.paid.append(paid)
        try:
            charge = gateway.capture(payment.provider_payment_id)
            body = gateway.notification_body(charge)
        except Exception as exc:
            with self.lock:
                self.errors[f"capture: {exc.__class__.__name__}: {str(exc)[:80]}"] += 1
            return None
        for _attempt in range(10):  # the provider's own redelivery, until answered 200
            status, _r, _b = self.http("POST", "/payments/sandbox/notify/", body, {
                "Content-Type": "application/json", "X-Sandbox-Signature": gateway.sign_notification(body)})
            self.count("payment_notify", status)
            if status == 200:
                paid.notified = True
                break
            time.sleep(1.0)
        return paid

    def clerk_action(self, n: int, scheduled: float) -> None:
        from madoguchi.applications import actions
        from madoguchi.applications.models import CertificateRequest, State

        with self.lock:
            ids = [p.request_id for p in self.paid if p.request_id not in self.decisions]
        request = (CertificateRequest.objects.filter(pk__in=ids, state=State.RECEIVED).order_by("created_at").first()
                   if ids else None)
        if request is None:
            self.count("clerk", 0)
            return
        with self.lock:
            if request.pk in self.decisions:
                return
            self.decisions[request.pk] = "pending"
        try:
            actions.start_review(request, self.clerk)
            if n % 2:
                actions.approve(request, self.clerk, flags_acknowledged=True)
                decision = "approved"
            else:
                actions.reject(request, self.clerk, reason="記載内容を確認できないため(負荷試験)")
                decision = "rejected"
        except Exception as exc:
            with self.lock:
                self.errors[f"clerk: {exc.__class__.__name__}: {str(exc)[:80]}"] += 1
                del self.decisions[request.pk]
            return
        with self.lock:
            self.decisions[request.pk] = decision
        self.count("clerk", 200)


def open_loop(load: Load, seconds: float, rates: dict[str, float], faults=(), pool_size: int = 48) -> list[str]:
    """Send every stream at its fixed rate for `seconds` (each request at its scheduled time, on a
    pool of threads), injecting the faults at their times. Returns what was done to the processes."""
    streams = {"pages": load.page, "status": load.status_lookup, "line": load.line_event,
               "payments": load.pay, "clerk": load.clerk_action}
    plan = sorted((n / rate, name, n) for name, rate in rates.items() if rate > 0
                  for n in range(int(seconds * rate)))
    faults = sorted(faults)
    done: list[str] = []
    start = time.monotonic() + 0.5
    injected: list[threading.Thread] = []

    def inject(what: str, queue: str) -> None:
        # In a thread of its own: waiting for a busy worker must not hold the load back.
        if what == "worker":
            pid, mid_job = load.stack.kill_worker(queue)
            state = "mid-job" if mid_job else "idle (no job seen within 20 s)"
            done.append(f"{time.monotonic() - start:6.1f} s: SIGKILL worker {queue} pid {pid}, {state}")
        else:
            pid = load.stack.kill_web_worker()
            done.append(f"{time.monotonic() - start:6.1f} s: SIGKILL web (gunicorn worker) pid {pid}")

    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for offset, name, n in plan:
            while faults and faults[0][0] * seconds <= offset:
                _at, what, queue = faults.pop(0)
                injected.append(threading.Thread(target=inject, args=(what, queue)))
                injected[-1].start()
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(streams[name], n, start + offset)
    for thread in injected:
        thread.join()
    return done


# --- settling and counting --------------------------------------------------------------------------

def expected_notices(load: Load) -> dict[int, list[str]]:
    out = {p.request_id: ["received"] for p in load.paid if p.notified}
    for request_id, decision in load.decisions.items():
        if decision == "rejected" and request_id in out:
            out[request_id] += ["rejected", "refunded"]
    return out


def unsettled(load: Load) -> list[str]:
    """What is still on its way ([] when everything settled)."""
    from madoguchi.applications.models import CertificateRequest, State
    from madoguchi.line.models import WebhookEvent
    from madoguchi.notifications.models import Notice, NoticeStatus
    from madoguchi.operations.queues import backlog
    from madoguchi.payments.models import Refund, RefundStatus

    waiting = []
    busy = [f"{b.queue}:{b.waiting}+{b.running}" for b in backlog() if b.waiting or b.running]
    if busy:
        waiting.append("queues " + " ".join(busy))
    ids = [p.request_id for p in load.paid if p.notified]
    not_received = CertificateRequest.objects.filter(pk__in=ids, state=State.AWAITING_PAYMENT).count()
    if not_received:
        waiting.append(f"{not_received} paid requests not yet 受付")
    rejected = [i for i, d in load.decisions.items() if d == "rejected"]
    open_refunds = Refund.objects.filter(payment__request_id__in=rejected).exclude(status=RefundStatus.DONE).count()
    if open_refunds or CertificateRequest.objects.filter(pk__in=rejected, state=State.REJECTED).exists():
        waiting.append(f"{open_refunds} refunds open")
    open_notices = Notice.objects.filter(status__in=[NoticeStatus.PENDING, NoticeStatus.SENDING]).count()
    if open_notices:
        waiting.append(f"{open_notices} notices unsent")
    pending_events = WebhookEvent.objects.filter(processed_at__isnull=True).count()
    if pending_events:
        waiting.append(f"{pending_events} LINE events pending")
    answered = _answered_users(load)
    unanswered = sum(1 for s in load.line if s.accepted and not answered.get(s.user))
    if unanswered:
        waiting.append(f"{unanswered} LINE events unanswered")
    return waiting


def _answered_users(load: Load) -> dict[str, int]:
    """Per LINE user: how many answers LINE accepted (replies by their token, pushes to the user)."""
    token_user = {s.token: s.user for s in load.line}
    count: dict[str, int] = defaultdict(int)
    with load.stack.recorder.lock:
        deliveries = list(load.stack.recorder.deliveries)
    for d in deliveries:
        if d.status != 200:
            continue
        user = token_user.get(d.token) if d.kind == "reply" else d.to
        if user:
            count[user] += 1
    return count


# RQ gives a killed job up when its lease lapses (a forking worker's heartbeat, 60-90 s; a warm line
# worker's lease, 15 s) and the scheduler's sweep re-queues it, as it does a job the worker took but
# had not started (operations/queues.py). Housekeeping (the scheduler runs it every 5 minutes) is the
# safety net for anything else: LINE events pending for 2 minutes or with their answer unsent, due
# notices, stuck refunds. Once the queues are
# idle past SAFETY_NET_AFTER with something still open, the harness runs that housekeeping at once
# rather than waiting up to 5 minutes for the scheduler's turn, and says so.
SAFETY_NET_AFTER = 130.0


def settle(load: Load, limit: float) -> tuple[float, list[str]]:
    from django.core.management import call_command

    started = time.monotonic()
    left = unsettled(load)
    swept = False
    while left and time.monotonic() - started < limit:
        time.sleep(3)
        left = unsettled(load)
        if (left and not swept and time.monotonic() - started > SAFETY_NET_AFTER
                and not any(item.startswith("queues ") for item in left)):
            import io

            out = io.StringIO()
            call_command("housekeeping", stdout=out)
            print(f"soak: queues idle with {'; '.join(left)} after {time.monotonic() - started:.0f} s: ran "
                  f"housekeeping (the safety net): {out.getvalue().strip()}", flush=True)
            swept = True
    return time.monotonic() - started, left


def lost_or_duplicated(load: Load) -> tuple[int, list[str]]:
    """Count every item lost or duplicated; returns (n, findings)."""
    from madoguchi.applications.models import CertificateRequest, EventKind, RequestEvent
    from madoguchi.line.notify import RETRY_KEY_NAMESPACE
    from madoguchi.notifications.models import Notice, NoticeStatus
    from madoguchi.payments.contrib.sandbox.models import SandboxCharge, SandboxRefund
    from madoguchi.payments.models import Payment, Refund, RefundStatus

    findings: list[str] = []

    def finding(n: int, what: str) -> int:
        if n:
            findings.append(f"{n} {what}")
        return n

    total = 0
    # LINE answers.
    answered = _answered_users(load)
    accepted = [s for s in load.line if s.accepted]
    total += finding(sum(1 for s in load.line if not s.accepted), "LINE events never accepted by the webhook")
    total += finding(sum(1 for s in accepted if answered.get(s.user, 0) == 0), "LINE events without an answer")
    total += finding(sum(answered.get(s.user, 0) - 1 for s in accepted if answered.get(s.user, 0) > 1),
                     "LINE answers delivered twice")
    # Payments and history.
    paid = {p.request_id: p for p in load.paid if p.notified}
    total += finding(sum(1 for p in load.paid if not p.notified), "payment notifications never accepted")
    events = Counter(RequestEvent.objects.filter(request_id__in=paid).values_list("request_id", "kind"))
    captured = Counter(Payment.objects.filter(request_id__in=paid, status__in=[
        "captured", "partially_refunded", "refunded"]).values_list("request_id", flat=True))
    for request_id in paid:
        total += finding(abs(events[(request_id, EventKind.RECEIVED)] - 1), f"受付 events off for request {request_id}")
        total += finding(abs(captured[request_id] - 1), f"captured payments off for request {request_id}")
        for kind in (EventKind.APPROVED, EventKind.REJECTED, EventKind.REFUNDED):
            expected = {"approved": EventKind.APPROVED, "rejected": EventKind.REJECTED}.get(
                load.decisions.get(request_id, ""))
            want = 1 if kind == expected or (kind == EventKind.REFUNDED and expected == EventKind.REJECTED) else 0
            total += finding(abs(events[(request_id, kind)] - want), f"{kind} events off for request {request_id}")
    # Refunds.
    for request_id in [i for i, d in load.decisions.items() if d == "rejected"]:
        payment = Payment.objects.filter(request_id=request_id).exclude(status="pending").first()
        refunds = list(Refund.objects.filter(payment__request_id=request_id))
        total += finding(abs(len(refunds) - 1), f"refunds off for request {request_id}")
        total += finding(sum(1 for r in refunds if r.status != RefundStatus.DONE), f"refund not done for {request_id}")
        if payment is not None:
            charge = SandboxCharge.objects.filter(charge_id=payment.provider_payment_id).first()
            if charge is not None:
                at_gateway = SandboxRefund.objects.filter(charge=charge).count()
                total += finding(abs(at_gateway - 1), f"gateway refunds off for request {request_id}")
                total += finding(int(charge.refunded_amount != payment.amount),
                                 f"refunded {charge.refunded_amount} of {payment.amount} for request {request_id}")
    # Notices.
    notices = list(Notice.objects.filter(request_id__in=paid))
    by_key = {n.dedupe_key: n for n in notices}
    uncertain = [n for n in notices if n.status == NoticeStatus.UNCERTAIN]
    for request_id, kinds in expected_notices(load).items():
        p = paid[request_id]
        for kind in kinds:
            key = f"{request_id}:{kind}:line" if p.line_user else f"{request_id}:{kind}"
            if key not in by_key and not any(k.startswith(f"{request_id}:{kind}") for k in by_key):
                total += finding(1, f"notice {key} missing")
    unsent = [n for n in notices if n.status not in (NoticeStatus.SENT, NoticeStatus.UNCERTAIN)]
    total += finding(len(unsent), "notices not sent" + "".join(
        f"; {n.dedupe_key} {n.status} after {n.attempts} attempts: {n.last_error[:100]}" for n in unsent[:5]))
    with load.stack.recorder.lock:
        pushes = Counter(d.retry_key for d in load.stack.recorder.deliveries if d.kind == "push" and d.status == 200)
    for n in notices:
        if n.transport == "line" and n.status == NoticeStatus.SENT:
            key = str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{n.municipality_id}:{n.pk}"))
            total += finding(abs(pushes[key] - 1), f"LINE pushes off for notice {n.dedupe_key}")
    mail = Counter()
    for path in load.stack.mail_dir.glob("*"):
        for match in re.finditer(r"^To: (soak-\d+@example\.jp)$", path.read_text(errors="replace"), re.M):
            mail[match.group(1)] += 1
    email_notices = Counter(n.recipient for n in notices if n.transport == "email" and n.status == NoticeStatus.SENT)
    for recipient in set(mail) | set(email_notices):
        total += finding(abs(mail[recipient] - email_notices[recipient]), f"e-mails off for {recipient}")
    if uncertain:
        findings.append(f"({len(uncertain)} e-mail notices uncertain: reported to staff, not resent)")
    requests = CertificateRequest.objects.filter(pk__in=paid).count()
    findings.append(f"checked: {len(accepted)} LINE events, {requests} paid requests, "
                    f"{sum(1 for d in load.decisions.values() if d == 'rejected')} refunds, {len(notices)} notices")
    return total, findings


def soak(seconds: float, faults=None, drain: float | None = None, stream_rates: dict | None = None) -> int:
    """Run the soak and print what it saw; returns the number of items lost or duplicated."""
    drain = float(os.environ.get("SOAK_DRAIN_SECONDS", "480")) if drain is None else drain
    stream_rates = stream_rates or rates()
    faults = fault_plan() if faults is None else faults
    with _stack.Stack("soak") as stack:
        load = Load(stack)
        load.prepare()
        print(f"soak: {seconds:.0f} s on PostgreSQL ({stack.name}) + Redis db {stack.redis_db}, rates/s "
              + ", ".join(f"{k} {v:g}" for k, v in stream_rates.items()), flush=True)
        started = time.monotonic()
        done = open_loop(load, seconds, stream_rates, faults)
        for line in done:
            print(f"soak: {line}", flush=True)
        print(f"soak: load ran {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
        waited, left = settle(load, drain)
        print(f"soak: settled after {waited:.0f} s" + (f" (still open: {'; '.join(left)})" if left else ""),
              flush=True)
        statuses = ", ".join(f"{s}:{c}={n}" for (s, c), n in sorted(load.statuses.items()))
        print(f"soak: answers {statuses}", flush=True)
        for error, n in load.errors.most_common(10):
            print(f"soak: driver error x{n}: {error}", flush=True)
        n, findings = lost_or_duplicated(load)
        for line in findings:
            print(f"soak: {line}", flush=True)
        respawned = stack.worker_pids()
        print(f"soak: {len(respawned)} workers running at the end (logs in {stack.tmp})", flush=True)
    print(f"BENCH soak_lost_or_duplicated {n} items", flush=True)
    return n


def run(report) -> None:
    """`make bench ONLY=soak`: a 3-minute soak (SOAK_SECONDS) in a process of its own."""
    import subprocess

    reason = _stack.unavailable()
    if reason:
        print(f"soak: skipped, it needs PostgreSQL and Redis on 127.0.0.1: {reason}", flush=True)
        return
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MADOGUCHI_TASK_BACKEND"}}
    env.setdefault("SOAK_SECONDS", "180")
    subprocess.run([sys.executable, "-m", "madoguchi.bench.soak"], env=env, check=False)


def main() -> int:
    reason = _stack.unavailable()
    if reason:
        print(f"soak: needs PostgreSQL and Redis on 127.0.0.1: {reason}", file=sys.stderr)
        return 2
    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    return 1 if soak(seconds) else 0


if __name__ == "__main__":
    sys.exit(main())
