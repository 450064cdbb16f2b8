"""The clerk's daily screens: queue, one-screen request detail, batch approve and print, mailing.

Every query is scoped by the signed-in clerk's municipality; every view of personal data is logged.
"""

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications import actions
from madoguchi.applications.models import QUEUE_STATES, CertificateRequest, ReturnReason, State
from madoguchi.catalog.models import CertificateType
from madoguchi.core.forms import Form
from madoguchi.documents.models import IssuedDocument, PrintBatch
from madoguchi.documents.services import TimestampUnavailable, signed_document_pdf
from madoguchi.identity.models import SignatureEvidence
from madoguchi.identity.trust import stale_anchors
from madoguchi.notifications.models import Notice, NoticeStatus
from madoguchi.notifications.tasks import resend as resend_notice
from madoguchi.operations import audit
from madoguchi.operations.audit import log_access
from madoguchi.tenancy.models import Role, Staff

from .auth import (
    check_password,
    check_totp,
    mark_signed_in,
    office_page,
    record_sign_in_event,
    remember_device,
    retry_message,
    staff_required,
)
from .invitation import home_for

PAGE_SIZE = 100


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


@staff_required()
def queue(http_request):
    qs = _requests(http_request).filter(state__in=QUEUE_STATES)
    state = http_request.GET.get("state", "")
    certificate_type = http_request.GET.get("type", "")
    flagged = http_request.GET.get("flagged", "")
    counts = dict(qs.values_list("state").annotate(n=Count("id")).order_by())
    if state in QUEUE_STATES:
        qs = qs.filter(state=state)
    if certificate_type in CertificateType.values:
        qs = qs.filter(certificate_type=certificate_type)
    log_access(http_request, "view_queue")  # the list shows names of residents
    items = list(qs.order_by("received_at", "id")[:PAGE_SIZE * 5])
    if flagged == "1":
        items = [r for r in items if not r.auto_acceptable]
    elif flagged == "0":
        items = [r for r in items if r.auto_acceptable]
    return render(http_request, "backoffice/queue.html", {
        "items": items[:PAGE_SIZE], "counts": [(s, State(s).label, counts.get(s, 0)) for s in QUEUE_STATES],
        "state": state, "type": certificate_type, "flagged": flagged, "types": CertificateType.choices,
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
    return render(http_request, "backoffice/detail.html", {
        "r": request,
        "evidence": SignatureEvidence.objects.filter(municipality=municipality, request=request).first(),
        "events": request.events.filter(municipality=municipality).select_related("actor"),
        "document": IssuedDocument.objects.filter(municipality=municipality, request=request).first(),
        "household": (request.resident.household.members.filter(municipality=municipality).order_by("id")
                      if request.resident else []),
        "payment": request.payments.filter(municipality=municipality).order_by("-id").first(),
        "return_reasons": ReturnReason.choices,
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


@staff_required()
@require_POST
def approve(http_request, public_id):
    return _act(http_request, public_id, audit.AuditAction.APPROVED, actions.approve,
                flags_acknowledged=http_request.POST.get("flags_acknowledged") == "1")


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
@require_POST
def reject(http_request, public_id):
    return _act(http_request, public_id, audit.AuditAction.REJECTED, actions.reject,
                http_request.POST.get("reason", ""))


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


@staff_required()
@require_POST
def batch(http_request):
    selected = _selected(http_request)
    if not selected:
        messages.error(http_request, _("申請を選んでください。"))
        return redirect("backoffice:queue")
    operation = http_request.POST.get("operation")
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
    return render(http_request, "backoffice/batch.html", {
        "batch": printed, "items": [d.request for d in printed.documents.select_related("request").order_by(
            "request__received_at", "request_id")]})


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


@staff_required()
@require_POST
def batch_mailed(http_request, batch_id):
    """Mark each envelope of the batch mailed, with its tracking number where the class has one."""
    printed = _batch(http_request, batch_id)
    done, problems = 0, []
    for document in printed.documents.select_related("request"):
        request = document.request
        if request.state != State.ISSUED:
            continue
        try:
            actions.mark_mailed(request, http_request.user,
                                http_request.POST.get(f"tracking_{request.public_id}", ""))
            audit.record(audit.AuditAction.MAILED, http_request=http_request, target=request,
                         after={"state": State.MAILED, "print_batch": printed.pk})
            done += 1
        except actions.ActionError as exc:
            problems.append(f"{request.formatted_reception_number}: {exc}")
    messages.success(http_request, _("{n}件を発送済みにしました。").format(n=done))
    for line in problems:
        messages.warning(http_request, line)
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
