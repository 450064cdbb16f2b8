"""What a resident is told about their own request, on every channel: where it stands and since
when, each step so far with its date, the reason when it was rejected, sent back (差戻し) or cancelled
by the office, the tracking number with a link to follow the envelope, the day it is mailed by, and
what happens next.

Built from the request and its history (`RequestEvent`), never from the clerk's internal notes: the
reasons shown are those the workflow stores for the resident (`decision_reason`, the reason of a
rejection, 差戻し or staff cancellation), and internal details such as the order id or the card's
serial number never appear.
"""

import datetime
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.core.dates import to_wareki

from .models import CertificateRequest, EventKind, RequestEvent, State, UndeliveredReason

# A step of the history, in the resident's words. Kinds that are not listed (payment started,
# reprints, corrections kept for the record) are office matters and are not shown.
STEP_TEXT = {
    EventKind.CREATED: gettext_lazy("申請の入力を始めました"),
    EventKind.SIGNED: gettext_lazy("マイナンバーカードで電子署名しました"),
    EventKind.RECEIVED: gettext_lazy("お支払いを確認し、申請を受け付けました"),
    EventKind.REVIEW_STARTED: gettext_lazy("職員が審査を始めました"),
    EventKind.APPROVED: gettext_lazy("審査が終わりました"),
    EventKind.ISSUED: gettext_lazy("証明書を発行しました"),
    EventKind.MAILED: gettext_lazy("郵便で発送しました"),
    EventKind.UNDELIVERED: gettext_lazy("郵便物が市役所に戻りました(返戻)"),
    EventKind.COMPLETED: gettext_lazy("お届けが完了しました"),
    EventKind.RETURNED: gettext_lazy("申請内容の修正をお願いしました(差戻し)"),
    EventKind.RESUBMITTED: gettext_lazy("修正した申請を受け付けました"),
    EventKind.REJECTED: gettext_lazy("申請を却下しました"),
    EventKind.REFUNDED: gettext_lazy("返金しました"),
    EventKind.COPIES_REDUCED: gettext_lazy("通数を減らし、その分を返金しました"),
    EventKind.CANCELLED: gettext_lazy("申請を取り消しました"),
    EventKind.EXPIRED: gettext_lazy("お支払いがないまま期限が過ぎたため、申請を取り消しました"),
}

# Where the request stands, in one sentence.
SUMMARY = {
    State.DRAFT: gettext_lazy("申請はまだ終わっていません(入力中)。"),
    State.SIGNED: gettext_lazy("電子署名は済んでいます。お支払いがまだです。"),
    State.AWAITING_PAYMENT: gettext_lazy("お支払いの結果をまだ受け取っていません。"),
    State.RECEIVED: gettext_lazy("受付済みです。職員が内容を確認します。"),
    State.IN_REVIEW: gettext_lazy("審査中です。"),
    State.APPROVED: gettext_lazy("審査が終わり、発行の準備をしています。"),
    State.ISSUED: gettext_lazy("証明書を発行しました。まもなく発送します。"),
    State.MAILED: gettext_lazy("発送済みです。郵便でお届けします。"),
    State.UNDELIVERED: gettext_lazy("お送りした証明書が届かず、市役所に戻りました。"),
    State.COMPLETED: gettext_lazy("お届けが完了しました。"),
    State.RETURNED: gettext_lazy("申請内容の確認が必要なため、差し戻しました。期限までに内容を修正してください。"),
    State.REJECTED: gettext_lazy("申請は却下されました。返金の手続きをしています。"),
    State.REFUNDED: gettext_lazy("申請は却下され、返金しました。"),
    State.CANCELLED: gettext_lazy("申請は取り消されました。"),
    State.EXPIRED: gettext_lazy("お支払いがないまま期限が過ぎたため、申請は取り消されました。"),
}

# The states in which the request is still on its way to the resident's letterbox.
BEFORE_MAILING = {State.RECEIVED, State.IN_REVIEW, State.APPROVED, State.ISSUED}


@dataclass(frozen=True)
class Step:
    text: str
    at: datetime.datetime
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    summary: str
    since: datetime.datetime | None
    steps: list[Step]
    next_steps: list[str]
    reason: str = ""
    reason_title: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    expected_ship_date: datetime.date | None = None
    correction_deadline: datetime.datetime | None = None


def tracking_url(number: str) -> str:
    """The carrier's page for this tracking number (MADOGUCHI_TRACKING_URL, `{number}` replaced)."""
    template = settings.TRACKING_URL
    return template.replace("{number}", quote(number, safe="")) if number and template else ""


def _detail(event: RequestEvent) -> str:
    """The words a resident may read next to a step: never internal ids."""
    if event.kind in {EventKind.REJECTED, EventKind.RETURNED, EventKind.UNDELIVERED}:
        return event.reason
    if event.kind == EventKind.CANCELLED and event.actor_kind != "resident":
        return event.reason  # the office's or the deadline's reason; the resident knows their own
    if event.kind == EventKind.MAILED and event.data.get("tracking_number"):
        return _("お問い合わせ番号 {number}").format(number=event.data["tracking_number"])
    if event.kind == EventKind.REFUNDED and event.data.get("amount"):
        return _("{amount}円").format(amount=event.data["amount"])
    if event.kind == EventKind.COPIES_REDUCED:
        return _("{old}通から{new}通へ({amount}円を返金)").format(
            old=event.data.get("copies_from"), new=event.data.get("copies_to"), amount=event.data.get("refund_amount"))
    return ""


def _deadline(event: RequestEvent | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(event.data["deadline"]) if event else None
    except (KeyError, TypeError, ValueError):
        return None


def _moment(at: datetime.datetime) -> str:
    """`令和8年12月20日 17:00` in the municipality's time zone."""
    local = timezone.localtime(at) if timezone.is_aware(at) else at
    return f"{to_wareki(local.date())} {local:%H:%M}"


# What a resident whose envelope came back should do, by the post office's reason.
UNDELIVERED_NEXT = {
    UndeliveredReason.ADDRESS_UNKNOWN: gettext_lazy(
        "住民登録の住所にお届けできませんでした。郵便受けにお名前が出ているかご確認のうえ、下の問い合わせ先へご連絡ください。"
        "ご連絡をいただいてから再発送します。"),
    UndeliveredReason.MOVED: gettext_lazy(
        "転居されたため、お届けできませんでした。下の問い合わせ先へご連絡ください。申請を取り消して返金します。"),
    UndeliveredReason.REFUSED: gettext_lazy(
        "受け取りを拒否されたため戻りました。証明書が必要なときは、下の問い合わせ先へご連絡ください。"
        "ご連絡がないときは、申請を取り消して返金します。"),
    UndeliveredReason.UNCLAIMED: gettext_lazy(
        "郵便局での保管期間が過ぎたため戻りました。再発送をご希望のときは、下の問い合わせ先へご連絡ください。"),
    "": gettext_lazy("下の問い合わせ先へご連絡ください。再発送するか、申請を取り消して返金します。"),
}


def _next_steps(request: CertificateRequest, deadline: datetime.datetime | None,
                reason_code: str = "") -> list[str]:
    state = request.state
    ship = request.expected_ship_date
    ship_text = (_("{date}ごろまでに発送します。").format(date=to_wareki(ship)) if ship
                 else _("準備ができしだい発送します。"))
    if state == State.DRAFT:
        return [_("内容を確認し、マイナンバーカードで電子署名してください。"),
                _("そのあと手数料と郵便料をお支払いいただくと、申請を受け付けます。"),
                _("24時間たっても署名とお支払いがない申請は、自動で取り消されます。料金はかかりません。")]
    if state in {State.SIGNED, State.AWAITING_PAYMENT}:
        return [_("お支払いが済むと、申請を受け付けて受付番号をお知らせします。"),
                _("24時間たってもお支払いがない申請は、自動で取り消されます。料金はかかりません。")]
    if state in {State.RECEIVED, State.IN_REVIEW}:
        return [_("職員が申請内容と住民記録を確認します。確認が必要なときは、修正をお願いすることがあります。"),
                ship_text, _("住民登録のある住所へ郵便でお届けします。")]
    if state in {State.APPROVED, State.ISSUED}:
        return [_("証明書を印刷して封筒に入れ、発送します。"), ship_text,
                _("住民登録のある住所へ郵便でお届けします。")]
    if state == State.MAILED:
        steps = [_("ふつうは発送から数日で届きます。")]
        if request.tracking_number:
            steps.append(_("お問い合わせ番号で、郵便の配達状況を確認できます。"))
        steps.append(_("届いたら、このページで受け取りを確認してください。"))
        return steps
    if state == State.UNDELIVERED:
        return [str(UNDELIVERED_NEXT.get(reason_code, UNDELIVERED_NEXT[""])),
                _("証明書は住民登録のある住所にだけお送りします。住所が変わった方は、新しい住所の市区町村で申請してください。")]
    if state == State.RETURNED:
        until = _("{date}までに").format(date=_moment(deadline)) if deadline else ""
        return [until + _("申請内容を修正してください。修正した内容で、職員がもう一度確認します。"),
                _("期限を過ぎると申請は取り消され、お支払いいただいた金額は返金します。")]
    if state == State.REJECTED:
        return [_("お支払いいただいた金額は、お支払いに使った方法で返金します。手続きが済むとお知らせします。"),
                _("却下の理由について分からないことは、下の問い合わせ先へご連絡ください。")]
    if state == State.REFUNDED:
        return [_("返金がカードの明細などに表れるまで、お支払い方法によっては日数がかかります。"),
                _("却下の理由について分からないことは、下の問い合わせ先へご連絡ください。")]
    if state in {State.CANCELLED, State.EXPIRED}:
        return [_("証明書が必要なときは、もう一度はじめから申請してください。")]
    return []


def progress_of(request: CertificateRequest, events: list[RequestEvent] | None = None) -> Progress:
    """Everything the resident is told about `request`. `events` may be passed when already loaded."""
    if events is None:
        events = list(RequestEvent.objects.filter(municipality_id=request.municipality_id, request=request)
                      .order_by("at", "id"))
    shown = [e for e in events if e.kind in STEP_TEXT]
    steps = [Step(str(STEP_TEXT[e.kind]), e.at, _detail(e)) for e in shown]
    changes = [e for e in events if e.to_state == request.state and e.from_state != request.state]
    since = changes[-1].at if changes else (events[-1].at if events else None)

    last = {e.kind: e for e in events}
    reason, reason_title = "", ""
    if request.state in {State.REJECTED, State.REFUNDED}:
        reason_title = _("却下の理由")
        reason = request.decision_reason or (last[EventKind.REJECTED].reason if EventKind.REJECTED in last else "")
    elif request.state == State.RETURNED:
        reason_title = _("修正をお願いする理由")
        reason = request.decision_reason or (last[EventKind.RETURNED].reason if EventKind.RETURNED in last else "")
    elif request.state == State.UNDELIVERED and EventKind.UNDELIVERED in last:
        reason_title = _("郵便物が戻った理由")
        reason = last[EventKind.UNDELIVERED].reason
    elif request.state == State.CANCELLED and EventKind.CANCELLED in last \
            and last[EventKind.CANCELLED].actor_kind != "resident":
        reason_title = _("取消の理由")
        reason = last[EventKind.CANCELLED].reason
    deadline = _deadline(last.get(EventKind.RETURNED)) if request.state == State.RETURNED else None
    number = (request.tracking_number if request.state in {State.MAILED, State.COMPLETED, State.UNDELIVERED}
              else "")
    reason_code = (last[EventKind.UNDELIVERED].data.get("reason_code", "")
                   if request.state == State.UNDELIVERED and EventKind.UNDELIVERED in last else "")
    return Progress(
        state=request.state, state_label=str(State(request.state).label),
        summary=str(SUMMARY.get(request.state, State(request.state).label)), since=since,
        steps=steps, next_steps=[str(s) for s in _next_steps(request, deadline, reason_code)],
        reason=reason, reason_title=str(reason_title), tracking_number=number, tracking_url=tracking_url(number),
        expected_ship_date=request.expected_ship_date if request.state in BEFORE_MAILING else None,
        correction_deadline=deadline)
