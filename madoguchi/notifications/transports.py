"""Notice transports: e-mail here, LINE registered by the `line` app. Each transport decides whom a
request's notice goes to, renders it, and sends it. ("Transport", not "channel": docs/glossary.md.)"""

import smtplib
from typing import Protocol

from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import CertificateRequest

from . import links
from .models import Notice


class Undeliverable(Exception):
    """The recipient cannot be reached (e.g. blocked the account): the notice is dropped, not retried."""


class OutcomeUnknown(Exception):
    """The send broke off after the message may have been handed over (a timeout or a dropped
    connection during the SMTP transaction): repeating it could deliver it twice."""


class NoticeTransport(Protocol):
    name: str
    kinds: frozenset[str]
    # Whether a send whose outcome is unknown may simply be repeated (the other side drops a repeat,
    # as LINE does with X-Line-Retry-Key); otherwise it is reported to staff instead.
    repeatable: bool

    def recipient(self, request: CertificateRequest) -> str: ...

    def render(self, request: CertificateRequest, kind: str, extra: dict) -> tuple[str, str]: ...

    def send(self, notice: Notice) -> None: ...


SUBJECTS = {
    "received": _("【{municipality}】証明書の申請を受け付けました"),
    "rejected": _("【{municipality}】証明書の申請を却下しました"),
    "refunded": _("【{municipality}】手数料を返金しました"),
    "partially_refunded": _("【{municipality}】手数料の一部を返金しました"),
    "mailed": _("【{municipality}】証明書を発送しました"),
    "undelivered": _("【{municipality}】お送りした証明書が戻ってきました"),
    "completed": _("【{municipality}】お届けが完了しました(アンケートのお願い)"),
    "cancelled": _("【{municipality}】証明書の申請を取り消しました"),
    "cancel_code": _("【{municipality}】申請の取消の確認コード"),
    "returned": _("【{municipality}】申請を差し戻しました(修正のお願い)"),
    "resubmitted": _("【{municipality}】修正した申請を受け付けました"),
    "requests_link": _("【{municipality}】申請の一覧を開くリンク"),
}


class EmailTransport:
    name = "email"
    kinds = frozenset(SUBJECTS)
    repeatable = False  # SMTP has no idempotency key: a second try may be a second e-mail

    def recipient(self, request: CertificateRequest) -> str:
        return request.notice_email  # opt-in on the web

    def render(self, request: CertificateRequest, kind: str, extra: dict) -> tuple[str, str]:
        return (str(SUBJECTS[kind]).format(municipality=request.municipality.name),
                render_to_string(f"notifications/{kind}.txt", {"r": request, "m": request.municipality,
                                                               "link": links.url(kind, request), **extra}))

    def send(self, notice: Notice) -> None:
        message = EmailMessage(notice.subject, notice.body, to=[notice.recipient],
                               headers={"Message-ID": f"<notice-{notice.pk}@madoguchi>"})
        try:
            message.send(fail_silently=False)
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPAuthenticationError,
                smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                ConnectionRefusedError):
            raise  # refused before or with an answer: nothing was delivered, a retry is safe
        except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as exc:
            raise OutcomeUnknown(f"{exc.__class__.__name__}: {exc}") from None


_TRANSPORTS: dict[str, NoticeTransport] = {}


def register(transport: NoticeTransport) -> None:
    _TRANSPORTS[transport.name] = transport


def get(name: str) -> NoticeTransport:
    return _TRANSPORTS[name]


def registered() -> list[NoticeTransport]:
    return list(_TRANSPORTS.values())


register(EmailTransport())
