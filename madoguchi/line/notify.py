"""Push notices through the Messaging API for requests started in the chat.

The outbox row is claimed before the push (at most once on our side) and the push carries
X-Line-Retry-Key derived from the notice, so LINE itself refuses a second delivery of the same
notice (409) should a retry follow a push whose answer was lost.
"""

import uuid

from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from linebot.v3.messaging import ApiException, Message, PushMessageRequest

from madoguchi.applications.models import CertificateRequest, RequestChannel
from madoguchi.notifications import links
from madoguchi.notifications.models import Notice
from madoguchi.notifications.transports import Undeliverable

from .account import REQUEST_TIMEOUT, messaging_api
from .conversation import correction_button, postback, text
from .models import LineAccount, LineUser, RequestBinding

RETRY_KEY_NAMESPACE = uuid.UUID("5b0c1f9e-3f0e-4d55-9a57-6d61646f6775")
CONSENT_TEXT = gettext_lazy(
    "LINEアカウントとマイナンバーカードで確認した住民情報を連携しますか?"
    "連携すると、次回から申請状況をLINEで確認しやすくなります。"
    "連携する情報は住民情報との対応だけで、マイナンバー(個人番号)は保存しません。"
    "いつでも「連携解除」と送ると解除できます。")


class LineTransport:
    name = "line"
    repeatable = True  # the push carries X-Line-Retry-Key: LINE answers 409 to a repeat
    kinds = frozenset({"received", "rejected", "refunded", "partially_refunded", "issued", "mailed", "undelivered",
                       "completed", "cancelled", "cancel_code", "returned", "resubmitted", "requests_link"})

    def recipient(self, request: CertificateRequest) -> str:
        if request.channel != RequestChannel.LINE:
            return ""  # only requests started in the chat are bound to a LINE user
        binding = RequestBinding.objects.filter(request=request).select_related("line_user").first()
        return binding.line_user.user_id if binding else ""

    def render(self, request: CertificateRequest, kind: str, extra: dict) -> tuple[str, str]:
        body = render_to_string(f"line/notices/{kind}.txt",
                                {"r": request, "m": request.municipality, "link": links.url(kind, request),
                                 **extra}).strip()
        return kind, body

    def messages(self, notice: Notice, user: LineUser) -> list[Message]:
        request = notice.request
        if notice.subject == "completed":
            return [text(notice.body, [(f"{n}", postback("survey", r=str(request.public_id), v=str(n)))
                                       for n in range(1, 6)])]
        if notice.subject == "mailed":
            return [text(notice.body, [(_("受け取りました"), postback("receipt", r=str(request.public_id)))])]
        if notice.subject == "returned":
            account = LineAccount.objects.get(municipality=notice.municipality)
            return [text(notice.body), correction_button(account, request)]
        messages: list[Message] = [text(notice.body)]
        if notice.subject == "received" and user.resident_id is None and request.resident_id:
            consent = [(_("同意して連携する"), postback("link", r=str(request.public_id))),
                       (_("連携しない"), postback("nolink"))]
            messages.append(text(str(CONSENT_TEXT), consent))
        return messages

    def send(self, notice: Notice) -> None:
        user = LineUser.objects.filter(municipality=notice.municipality, user_id=notice.recipient).first()
        if user is None or not user.following:
            raise Undeliverable("the LINE user has blocked the account")
        account = LineAccount.objects.select_related("municipality").get(municipality=notice.municipality)
        retry_key = str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{notice.municipality_id}:{notice.pk}"))
        try:
            with messaging_api(account) as api:
                api.push_message(PushMessageRequest(to=notice.recipient, messages=self.messages(notice, user)),
                                 x_line_retry_key=retry_key, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 409:
                return  # LINE already accepted this retry key: the notice was delivered
            raise


LINE_TRANSPORT = LineTransport()
