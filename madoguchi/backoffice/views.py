"""The clerk's daily screens: queue, one-screen request detail, batch approve and print, mailing.

Every query is scoped by the signed-in clerk's municipality; every view of personal data is logged.
"""

import datetime
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications import actions
from madoguchi.applications.models import (
    QUEUE_STATES,
    CertificateRequest,
    RequestChannel,
    RequestEvent,
    ReturnReason,
    State,
    UndeliveredReason,
)
from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form
from madoguchi.core.search import search_key
from madoguchi.core.text import digits_only
from madoguchi.documents.models import IssuedDocument, PrintBatch
from madoguchi.documents.services import TimestampUnavailable, signed_document_pdf
from madoguchi.identity.models import SignatureEvidence
from madoguchi.identity.trust import stale_anchors
from madoguchi.notifications.models import Notice, NoticeStatus
from madoguchi.notifications.tasks import resend as resend_notice
from madoguchi.operations import audit
from madoguchi.operations.audit import log_access
from madoguchi.operations.models import AccessLog
from madoguchi.tenancy.models import Role, Staff

from . import review as review_screen
from .auth import (
    OTP_SESSION_KEY,
    check_password,
    check_totp,
    has_permission,
    mark_signed_in,
    office_page,
    record_sign_in_event,
    remember_device,
    retry_message,
    staff_required,
)
from .invitation import home_for
from .pages import site as office_pages

PAGE_SIZE = 100
# Every state has its tab: finished requests (mailed, rejected, completed) stay findable.
TABS = [("", gettext_lazy("要対応")), *[(s.value, s.label) for s in (
    State.RECEIVED, State.IN_REVIEW, State.APPROVED, State.ISSUED, State.MAILED, State.UNDELIVERED,
    State.COMPLETED, State.REJECTED, State.REFUNDED, State.CANCELLED, State.EXPIRED)], ("all", gettext_lazy("すべて"))]
REVIEWABLE = [State.RECEIVED, State.IN_REVIEW]
# Name searches are matched in Python on the folded form (core.search); this bounds the rows read.
SEARCH_SCAN_LIMIT = 5000


class LoginForm(Form):
    username = forms.CharField(label=gettext_lazy("ユーザー名"), max_length=150)
    password = forms.CharField(label=gettext_lazy("パスワード"), widget=forms.PasswordInput)


class TotpForm(Form):
    code = forms.CharField(label=gettext_lazy("確認コード(6桁)"), max_length=8,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


@office_page
@require_http_methods(["GET", "POST"])
def login_view(http_request):
    form = LoginForm(http_request.POST or None)
    if http_request.method == "POST" and form.is_valid():
        result = check_password(http_request, form.cleaned_data["username"], form.cleaned_data["password"])
        if result.staff:
            http_request.session.cycle_key()
            http_request.session["pending_staff"] = result.staff.pk
            return redirect("backoffice:totp")
        if result.retry_at:
            form.add_error(None, retry_message(result.retry_at))
        elif result.refused_network:
            form.add_error(None, _("このネットワークからは業務画面を利用できません。庁内の端末からご利用ください。"))
        else:
            form.add_error(None, _("ユーザー名またはパスワードが違います。"))
    return render(http_request, "backoffice/login.html", {"form": form})


@office_page
@require_http_methods(["GET", "POST"])
def totp_view(http_request):
    user = Staff.objects.filter(pk=http_request.session.get("pending_staff")).first()
    if user is None:
        return redirect("backoffice:login")
    form = TotpForm(http_request.POST or None)
    if http_request.method == "POST" and form.is_valid():
        result = check_totp(http_request, user, form.cleaned_data["code"])
        if result.staff:
            http_request.session.pop("pending_staff", None)
            login(http_request, user, backend="django.contrib.auth.backends.ModelBackend")
            mark_signed_in(http_request)
            return remember_device(redirect(home_for(user)), user)
        if result.retry_at:
            form.add_error(None, retry_message(result.retry_at))
        else:
            form.add_error("code", _("確認コードが違うか、すでに使われています。"))
    return render(http_request, "backoffice/totp.html", {"form": form})


@office_page
@require_POST
def logout_view(http_request):
    if http_request.user.is_authenticated:
        record_sign_in_event(http_request, "sign_out", staff=http_request.user)
    logout(http_request)
    return redirect("backoffice:login")


def _requests(http_request):
    return CertificateRequest.objects.for_municipality(http_request.user.municipality)


def _get_request(http_request, public_id) -> CertificateRequest:
    return get_object_or_404(_requests(http_request).select_related("resident__household", "municipality"),
                             public_id=public_id)


def queue(http_request):
    """The clerk's first screen; staff who do not review (auditors) get their own landing page."""
    user = http_request.user
    if (user.is_authenticated and http_request.session.get(OTP_SESSION_KEY) and user.municipality_id
            and not has_permission(user, "review")):
        return redirect("backoffice:audit_home")
    return _queue(http_request)


def _assignee():
    """The last staff member who acted on the request (review, approval, printing)."""
    return Subquery(RequestEvent.objects.filter(
        request=OuterRef("pk"), municipality=OuterRef("municipality"), actor__isnull=False,
    ).order_by("-at", "-id").values("actor__username")[:1])


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _search(qs, text: str):
    """Reception number (any part of its digits) or name, kana- and variant-insensitive."""
    text = text.strip()[:100]
    digits = digits_only(text)
    if digits and len(digits) >= 4 and len(digits) >= len(text.replace("-", "").replace(" ", "")) - 1:
        return qs.filter(reception_number__contains=digits), None
    key = search_key(text)
    if not key:
        return qs, None
    rows = qs.values_list("id", "delivery_name", "resident__name", "resident__name_kana")[:SEARCH_SCAN_LIMIT]
    ids = [row[0] for row in rows if any(key in search_key(value or "") for value in row[1:])]
    return qs.filter(id__in=ids), key


@staff_required()
def _queue(http_request):
    base = _requests(http_request)
    state = http_request.GET.get("state", "")
    if state not in dict(TABS):
        state = ""
    certificate_type = http_request.GET.get("type", "")
    flagged = http_request.GET.get("flagged", "")
    query = http_request.GET.get("q", "").replace("\x00", "")
    date_from, date_to = _date(http_request.GET.get("from", "")), _date(http_request.GET.get("to", ""))
    counts = dict(base.values_list("state").annotate(n=Count("id")).order_by())
    qs = base
    if state == "":
        qs = qs.filter(state__in=QUEUE_STATES)
    elif state != "all":
        qs = qs.filter(state=state)
    if certificate_type in CertificateType.values:
        qs = qs.filter(certificate_type=certificate_type)
    if date_from:
        qs = qs.filter(received_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(received_at__date__lte=date_to)
    if query:
        qs, _key = _search(qs, query)
    log_access(http_request, "view_queue")  # the list shows names of residents
    items = list(qs.annotate(assignee=_assignee()).order_by("received_at", "id")[:PAGE_SIZE * 5])
    if flagged == "1":
        items = [r for r in items if not r.auto_acceptable]
    elif flagged == "0":
        items = [r for r in items if r.auto_acceptable]
    today = timezone.localdate()
    for item in items:
        item.overdue = bool(item.expected_ship_date and item.expected_ship_date < today
                            and item.state in QUEUE_STATES)
    waiting = sum(counts.get(s, 0) for s in QUEUE_STATES)
    tabs = [(code, label, sum(counts.values()) if code == "all" else waiting if code == "" else counts.get(code, 0))
            for code, label in TABS]
    return render(http_request, "backoffice/queue.html", {
        "items": items[:PAGE_SIZE], "tabs": tabs, "state": state, "type": certificate_type, "flagged": flagged,
        "types": CertificateType.choices, "q": query, "date_from": date_from, "date_to": date_to,
        "select_all": http_request.GET.get("select") == "all", "channels": dict(RequestChannel.choices),
        "approved_count": counts.get(State.APPROVED, 0),
        # Signatures are refused while revocation data is stale: the clerk must know why.
        "stale_trust": stale_anchors(),
        "uncertain_notices": Notice.objects.for_municipality(http_request.user.municipality).filter(
            status=NoticeStatus.UNCERTAIN).select_related("request").order_by("created_at")[:50],
    })


@staff_required()
@require_POST
def notice_uncertain(http_request, notice_id):
    """A clerk settles an e-mail of unknown outcome: send it again, or mark it dealt with."""
    notice = get_object_or_404(Notice.objects.for_municipality(http_request.user.municipality),
                               pk=notice_id, status=NoticeStatus.UNCERTAIN)
    if http_request.POST.get("resolution") == "resend":
        resend_notice(notice)
        messages.success(http_request, _("お知らせを再送します。"))
    else:
        Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.FAILED,
                                                   last_error=f"settled by staff {http_request.user.pk}")
        messages.success(http_request, _("対応済みにしました。"))
    return redirect("backoffice:queue")


@staff_required()
def detail(http_request, public_id):
    request = _get_request(http_request, public_id)
    log_access(http_request, "view_request", request=request, resident=request.resident)
    # Each related table is read with the municipality too, so a distributed database asks one node.
    municipality = request.municipality_id
    evidence = SignatureEvidence.objects.filter(municipality=municipality, request=request).first()
    return render(http_request, "backoffice/detail.html", {
        "r": request,
        "evidence": evidence,
        "comparison": review_screen.comparison(request, evidence),
        "guidance": review_screen.flag_guidance(request),
        "next_request": _next_to_review(http_request, request),
        "events": request.events.filter(municipality=municipality).select_related("actor"),
        "document": IssuedDocument.objects.filter(municipality=municipality, request=request).first(),
        "household": (request.resident.household.members.filter(municipality=municipality).order_by("id")
                      if request.resident else []),
        "payment": request.payments.filter(municipality=municipality).order_by("-id").first(),
        "return_reasons": ReturnReason.choices,
        "undelivered_reasons": UndeliveredReason.choices,
        "correction": actions.open_correction(request) if request.state == State.RETURNED else None,
        "can_release": http_request.user.role == Role.MANAGER,
    })


def _act(http_request, public_id, audit_action, action, *args, **kwargs):
    request = _get_request(http_request, public_id)
    try:
        action(request, http_request.user, *args, **kwargs)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        request.refresh_from_db(fields=["state"])
        audit.record(audit_action, http_request=http_request, target=request, after={"state": request.state})
    return redirect("backoffice:detail", public_id=public_id)


@staff_required()
@require_POST
def review(http_request, public_id):
    return _act(http_request, public_id, audit.AuditAction.REVIEW_STARTED, actions.start_review)


def _next_to_review(http_request, current: CertificateRequest) -> CertificateRequest | None:
    """The next request waiting for review in queue order (after the current one, else from the top)."""
    waiting = _requests(http_request).filter(state__in=REVIEWABLE).exclude(pk=current.pk).order_by("received_at", "id")
    if current.received_at:
        later = waiting.filter(received_at__gte=current.received_at).exclude(
            received_at=current.received_at, id__lt=current.id).first()
        if later:
            return later
    return waiting.first()


@staff_required()
@require_POST
def approve(http_request, public_id):
    """Approve; with 「承認して次へ」 go straight to the next request waiting for review, and when none is
    left, to the approved list, ready to print."""
    request = _get_request(http_request, public_id)
    try:
        actions.approve(request, http_request.user,
                        flags_acknowledged=http_request.POST.get("flags_acknowledged") == "1")
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:detail", public_id=public_id)
    request.refresh_from_db(fields=["state"])
    audit.record(audit.AuditAction.APPROVED, http_request=http_request, target=request, after={"state": request.state})
    if http_request.POST.get("next") != "1":
        return redirect("backoffice:detail", public_id=public_id)
    messages.success(http_request, _("受付番号 {number} を承認しました。").format(
        number=request.formatted_reception_number))
    following = _next_to_review(http_request, request)
    if following:
        return redirect("backoffice:detail", public_id=following.public_id)
    messages.info(http_request, _("審査待ちの申請はもうありません。承認済みの申請を印刷できます。"))
    return redirect(reverse("backoffice:queue") + "?state=approved")


@staff_required()
@require_POST
def release_hold(http_request, public_id):
    """A manager releases a held request (支援措置 of someone on it, a change found at re-check)."""
    request = _get_request(http_request, public_id)
    try:
        actions.release_hold(request, http_request.user, http_request.POST.get("note", "")[:1000])
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        log_access(http_request, "release_hold", request=request, resident=request.resident)
        messages.success(http_request, _("保留を解除しました。"))
    return redirect("backoffice:detail", public_id=public_id)


@staff_required()
@require_http_methods(["GET", "POST"])
def reject(http_request, public_id):
    """Reject in two steps: choose the reason (定型文 and/or free text), then confirm the exact words the
    resident will read and the refund; only the confirmed post rejects."""
    request = _get_request(http_request, public_id)
    if request.state not in {State.RECEIVED, State.IN_REVIEW, State.APPROVED}:
        messages.error(http_request, _("この申請は却下できる状態ではありません。"))
        return redirect("backoffice:detail", public_id=public_id)
    form = review_screen.RejectForm(http_request.POST or None)
    if http_request.method == "POST" and "reason" in http_request.POST and "template" not in http_request.POST:
        # The one-field form of earlier screens: the reason as typed.
        form = review_screen.RejectForm({"template": "other", "detail": http_request.POST.get("reason", "")})
    confirming = http_request.method == "POST" and form.is_valid()
    if confirming and http_request.POST.get("confirmed") == "1":
        try:
            actions.reject(request, http_request.user, form.cleaned_data["reason"])
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
        else:
            request.refresh_from_db(fields=["state"])
            audit.record(audit.AuditAction.REJECTED, http_request=http_request, target=request,
                         after={"state": request.state})
            messages.success(http_request, _("受付番号 {number} を却下しました。返金を手続きしています。").format(
                number=request.formatted_reception_number))
        return redirect("backoffice:detail", public_id=public_id)
    return render(http_request, "backoffice/reject.html", {
        "r": request, "form": form, "confirming": confirming,
        "reason": form.cleaned_data.get("reason", "") if confirming else ""})


@staff_required()
@require_POST
def send_back(http_request, public_id):
    """差戻し with a 定型文 reason (and the clerk's own words): the resident corrects it."""
    return _act(http_request, public_id, audit.AuditAction.SENT_BACK, actions.send_back,
                http_request.POST.get("reason_code", ""),
                http_request.POST.get("reason_text", ""))


@staff_required()
@require_POST
def cancel(http_request, public_id):
    """Staff cancel with a reason (the resident is told; whatever was paid is refunded)."""
    return _act(http_request, public_id, audit.AuditAction.CANCELLED, actions.cancel_by_staff,
                http_request.POST.get("reason", ""))


@staff_required()
@require_POST
def mailed(http_request, public_id):
    return _act(http_request, public_id, audit.AuditAction.MAILED, actions.mark_mailed,
                http_request.POST.get("tracking_number", ""))


@staff_required()
@require_POST
def undelivered(http_request, public_id):
    """返戻: the mailed certificate came back (the post office's reason, as a 定型文)."""
    return _act(http_request, public_id, audit.AuditAction.UNDELIVERED, actions.record_undelivered,
                http_request.POST.get("reason_code", ""), http_request.POST.get("note", ""))


@staff_required()
@require_POST
def undelivered_reprint(http_request, public_id):
    """Reprint the one certificate that came back, with a reason, before mailing it again."""
    request = _get_request(http_request, public_id)
    try:
        reprinted = actions.reprint_undelivered(request, http_request.user, http_request.POST.get("reason", ""))
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:detail", public_id=public_id)
    log_access(http_request, "reprint_print_batch", request=request, resident=request.resident)
    audit.record(audit.AuditAction.REPRINTED, http_request=http_request, target=request,
                 after={"print_batch": reprinted.pk, "reprint_of": reprinted.reprint_of_id, "reason": reprinted.reason})
    messages.success(http_request, _(
        "再印刷用PDFを作成しました。印刷して、新しいお問い合わせ番号で再発送してください。"))
    return redirect("backoffice:batch_detail", batch_id=reprinted.pk)


@staff_required()
@require_POST
def refund_copies(http_request, public_id):
    """The partial refund when fewer copies than paid for can be issued."""
    request = _get_request(http_request, public_id)
    try:
        issuable = int(http_request.POST.get("issuable_copies", ""))
    except ValueError:
        messages.error(http_request, _("発行できる通数を数字で入力してください。"))
        return redirect("backoffice:detail", public_id=public_id)
    try:
        refund = actions.refund_unissuable_copies(request, http_request.user, issuable)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        audit.record(audit.AuditAction.PARTIAL_REFUND, http_request=http_request, target=request,
                     before={"copies": request.copies}, after={"copies": issuable, "refund": refund.amount})
        messages.success(http_request, _("{amount}円の返金を手続きしました。").format(amount=refund.amount))
    return redirect("backoffice:detail", public_id=public_id)


def _selected(http_request):
    ids = http_request.POST.getlist("selected")[:PAGE_SIZE * 5]
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return list(_requests(http_request).filter(public_id__in=valid).order_by("received_at", "id"))


def _approve_and_print(http_request, selected):
    """Approve what still needs approving, then print every approved one of them in one PDF."""
    skipped = []
    for request in selected:
        if request.state in REVIEWABLE:
            try:
                actions.approve(request, http_request.user)
            except actions.ActionError as exc:
                skipped.append(f"{request.formatted_reception_number}: {exc}")
            else:
                audit.record(audit.AuditAction.APPROVED, http_request=http_request, target=request,
                             after={"state": State.APPROVED, "batch": True})
    printable = [r for r in _requests(http_request).filter(pk__in=[r.pk for r in selected], state=State.APPROVED)
                 .order_by("received_at", "id")]
    for line in skipped:
        messages.warning(http_request, line)
    if not printable:
        messages.error(http_request, _("印刷できる申請がありません。"))
        return redirect("backoffice:queue")
    try:
        printed = actions.record_printed(printable, http_request.user)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:queue")
    for request in printable:
        audit.record(audit.AuditAction.PRINTED, http_request=http_request, target=request,
                     after={"print_batch": printed.pk})
    messages.success(http_request, _("{n}件を承認済みにし、印刷用PDFを作成しました。").format(n=len(printable)))
    return redirect("backoffice:batch_detail", batch_id=printed.pk)


@staff_required()
@require_POST
def print_approved(http_request):
    """Every approved request of the municipality in one print batch (the approved tab's button)."""
    approved = list(_requests(http_request).filter(state=State.APPROVED).order_by("received_at", "id")[:PAGE_SIZE])
    if not approved:
        messages.error(http_request, _("印刷できる申請がありません。"))
        return redirect(reverse("backoffice:queue") + "?state=approved")
    return _approve_and_print(http_request, approved)


@staff_required()
@require_POST
def batch(http_request):
    selected = _selected(http_request)
    if not selected:
        messages.error(http_request, _("申請を選んでください。"))
        return redirect("backoffice:queue")
    operation = http_request.POST.get("operation")
    if operation == "approve_print":
        return _approve_and_print(http_request, selected)
    if operation == "approve":
        done, skipped = 0, []
        for request in selected:
            try:
                actions.approve(request, http_request.user)
                audit.record(audit.AuditAction.APPROVED, http_request=http_request, target=request,
                             after={"state": State.APPROVED, "batch": True})
                done += 1
            except actions.ActionError as exc:
                skipped.append(f"{request.formatted_reception_number}: {exc}")
        messages.success(http_request, _("{n}件を承認しました。").format(n=done))
        for line in skipped:
            messages.warning(http_request, line)
        return redirect("backoffice:queue")
    if operation == "print":
        try:
            printed = actions.record_printed(selected, http_request.user)
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("backoffice:queue")
        for request in selected:
            audit.record(audit.AuditAction.PRINTED, http_request=http_request, target=request,
                         after={"print_batch": printed.pk})
        messages.success(http_request, _("{n}件の印刷用PDFを作成しました。").format(n=len(selected)))
        return redirect("backoffice:batch_detail", batch_id=printed.pk)
    raise Http404


def _batch(http_request, batch_id) -> PrintBatch:
    return get_object_or_404(PrintBatch.objects.for_municipality(http_request.user.municipality), pk=batch_id)


@staff_required()
def batch_detail(http_request, batch_id):
    printed = _batch(http_request, batch_id)
    log_access(http_request, "view_print_batch")
    items = [d.request for d in printed.documents.select_related("request").order_by(
        "request__received_at", "request_id")]
    return render(http_request, "backoffice/batch.html", {
        "batch": printed, "items": items, "has_issued": any(r.state == State.ISSUED for r in items)})


@staff_required()
@require_POST
def batch_reprint(http_request, batch_id):
    printed = _batch(http_request, batch_id)
    try:
        reprinted = actions.reprint(printed, http_request.user, http_request.POST.get("reason", ""))
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
        return redirect("backoffice:batch_detail", batch_id=printed.pk)
    log_access(http_request, "reprint_print_batch")
    audit.record(audit.AuditAction.REPRINTED, http_request=http_request,
                 target=("documents.printbatch", printed.pk, f"#{printed.pk}"),
                 after={"print_batch": reprinted.pk, "reason": reprinted.reason})
    messages.success(http_request, _("再印刷用PDFを作成しました。"))
    return redirect("backoffice:batch_detail", batch_id=reprinted.pk)


# 書留 numbers are 11 digits; the last is the first ten modulo 7 (observed on Japan Post's labels, not
# published by 日本郵便: a mismatch is reported to the clerk as a likely typo, never refused).
REGISTERED_MAIL_DIGITS = 11
PREFIX_MAX = 8


def registered_mail_typo(number: str) -> bool:
    digits = digits_only(number)
    return len(digits) == REGISTERED_MAIL_DIGITS and int(digits[:10]) % 7 != int(digits[10])


def _tracking_number(prefix: str, typed: str) -> str:
    """A label roll shares its first digits: the clerk types them once (`prefix`) and then only the
    rest of each number. A full number typed in a row is taken as it is."""
    typed = typed.strip()[:40]
    if prefix and typed and len(digits_only(typed)) + len(prefix) == REGISTERED_MAIL_DIGITS:
        return prefix + digits_only(typed)
    return typed


@staff_required()
@require_POST
def batch_mailed(http_request, batch_id):
    """Mark each envelope of the batch mailed, with its tracking number where the class has one."""
    printed = _batch(http_request, batch_id)
    prefix = digits_only(http_request.POST.get("tracking_prefix", "")[:40])[:PREFIX_MAX]
    done, problems, typos = 0, [], []
    for document in printed.documents.select_related("request"):
        request = document.request
        if request.state != State.ISSUED:
            continue
        number = _tracking_number(prefix, http_request.POST.get(f"tracking_{request.public_id}", ""))
        try:
            actions.mark_mailed(request, http_request.user, number)
            audit.record(audit.AuditAction.MAILED, http_request=http_request, target=request,
                         after={"state": State.MAILED, "print_batch": printed.pk})
            done += 1
        except actions.ActionError as exc:
            problems.append(f"{request.formatted_reception_number}: {exc}")
            continue
        if registered_mail_typo(number):
            typos.append(request.formatted_reception_number)
    messages.success(http_request, _("{n}件を発送済みにしました。").format(n=done))
    for line in problems:
        messages.warning(http_request, line)
    if typos:
        messages.warning(http_request, _("次の書留番号は検査数字が合いません。打ち間違いがないか、封筒のラベルと"
                                         "見比べてください: {numbers}").format(numbers="、".join(typos)))
    return redirect("backoffice:batch_detail", batch_id=printed.pk)


@staff_required()
def document_pdf(http_request, public_id):
    request = _get_request(http_request, public_id)
    document = get_object_or_404(IssuedDocument, request=request)
    log_access(http_request, "view_document", request=request, resident=request.resident)
    try:
        pdf = signed_document_pdf(document)
    except TimestampUnavailable as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.issue_number}.pdf"'
    return response


@staff_required()
def receipt_pdf(http_request, public_id):
    """Re-issue the resident's receipt (lost, or asked for by post): the same receipt PDF, logged."""
    from madoguchi.payments.receipts import RECEIPTED, build_pdf

    request = _get_request(http_request, public_id)
    payment = (request.payments.filter(municipality=request.municipality_id, status__in=RECEIPTED)
               .order_by("-id").first())
    if payment is None:
        raise Http404
    log_access(http_request, "reissue_receipt", request=request, resident=request.resident)
    response = HttpResponse(build_pdf(request, payment), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{request.reception_number}.pdf"'
    return response


def _landing(http_request, template: str, extra: dict):
    menu = office_pages.menu(http_request.user)
    return render(http_request, template, {"menu": menu, **extra})


@staff_required("logs")
def audit_home(http_request):
    """The auditor's first screen: what they may open, and the latest entries of the access log."""
    municipality = http_request.user.municipality
    return _landing(http_request, "backoffice/audit_home.html", {
        "recent": AccessLog.objects.for_municipality(municipality).select_related("staff", "request")[:10],
        "can_review": has_permission(http_request.user, "review"),
    })


@staff_required("manage")
def manager_home(http_request):
    """The manager's first screen: today's work by state and every settings page they may open."""
    municipality = http_request.user.municipality
    counts = dict(_requests(http_request).values_list("state").annotate(n=Count("id")).order_by())
    today = timezone.localdate()
    overdue = _requests(http_request).filter(state__in=QUEUE_STATES, expected_ship_date__lt=today).count()
    return _landing(http_request, "backoffice/manager_home.html", {
        "counts": [(s, State(s).label, counts.get(s, 0)) for s in QUEUE_STATES], "overdue": overdue,
        "staff": Staff.objects.filter(municipality=municipality).order_by("role", "username"),
    })
