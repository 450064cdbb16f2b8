"""完了: a mailed request ends when the resident confirms receipt, or by itself a number of business
days after mailing (per municipality); then the satisfaction survey, answered once per request."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import calendar

from .. import events
from ..models import CertificateRequest, EventKind, RequestEvent, SatisfactionAnswer, State
from ._base import ActionError, _locked, _transition, clean_text


@transaction.atomic
def complete(request: CertificateRequest, *, source: str = "schedule", channel: str = "") -> CertificateRequest:
    request = _locked(request)
    _transition(request, events.completed(request, source=source, channel=channel))
    return request


@transaction.atomic
def confirm_receipt(request: CertificateRequest, *, channel: str) -> CertificateRequest:
    """The resident says the certificate arrived (status page, LINE): 完了 now. Said twice, the
    second time changes nothing (the 完了 notice and survey go out once)."""
    request = _locked(request)
    if request.state == State.COMPLETED:
        return request
    if request.state != State.MAILED:
        raise ActionError(_("この申請はまだ発送されていないため、受け取りの確認はできません。"))
    _transition(request, events.completed(request, source="receipt", channel=channel))
    return request


def due_on(request: CertificateRequest, mailed_at: datetime.datetime) -> datetime.date:
    municipality = request.municipality
    return calendar.add_business_days(timezone.localdate(mailed_at), municipality.completion_days,
                                      municipality.closed_dates)


def complete_delivered(now: datetime.datetime | None = None) -> int:
    """Housekeeping: 完了 for every mailed request whose municipality's business days since mailing
    have passed. Business days are never fewer than calendar days, so the calendar bound narrows
    the scan before the calendar decides."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    count = 0
    mailed = (CertificateRequest.objects.filter(state=State.MAILED).select_related("municipality")
              .order_by("municipality_id", "id"))
    for request in mailed.iterator():
        if request.updated_at > now - datetime.timedelta(days=request.municipality.completion_days):
            continue
        mailed_at = (RequestEvent.objects.filter(municipality_id=request.municipality_id, request=request,
                                                 kind=EventKind.MAILED)
                     .order_by("-at").values_list("at", flat=True).first()) or request.updated_at
        if due_on(request, mailed_at) > today:
            continue
        with transaction.atomic():
            locked = _locked(request)
            if locked.state == State.MAILED:
                _transition(locked, events.completed(locked, source="schedule"))
                count += 1
    return count


def answer_survey(request: CertificateRequest, *, score, comment: str = "", channel: str) -> SatisfactionAnswer:
    """Store the resident's answer (1–5, optional comment) once; a second answer is refused."""
    if str(score) not in {"1", "2", "3", "4", "5"}:
        raise ActionError(_("満足度は1から5までの中から選んでください。"))
    comment = clean_text(comment, field=_("ご意見"))
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.COMPLETED:
            raise ActionError(_("お届けが完了していないため、このアンケートにはまだ回答できません。"))
        try:
            with transaction.atomic():
                return SatisfactionAnswer.objects.create(municipality=request.municipality, request=request,
                                                         score=int(score), comment=comment, channel=channel)
        except IntegrityError:
            raise ActionError(_("この申請のアンケートにはすでに回答いただいています。"
                                "ありがとうございました。")) from None


def add_survey_comment(request: CertificateRequest, comment: str) -> SatisfactionAnswer:
    """A comment sent after the score (LINE asks for it separately): kept once, never overwritten."""
    comment = clean_text(comment, field=_("ご意見"))
    with transaction.atomic():
        answer = SatisfactionAnswer.objects.select_for_update().filter(
            municipality_id=request.municipality_id, request=request).first()
        if answer is None:
            raise ActionError(_("先に満足度を選んでください。"))
        if answer.comment:
            raise ActionError(_("ご意見はすでにいただいています。ありがとうございました。"))
        if comment:
            answer.comment = comment
            answer.save(update_fields=["comment"])
        return answer
