"""「申請の一覧」 by a signed link: a resident asks for it with the notice address they gave, and the
link goes out through that address's latest request — by e-mail, and to LINE when that request came
from the LINE account. The page that asks answers the same whether or not the address is known, so
it never tells who applied (個人情報の保護に関する法律 第23条: 安全管理措置).

Nothing about the request changes here: the only write is the outbox notice.
"""

import datetime
import hashlib
import secrets

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.core.throttle import hit
from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.tenancy.models import Municipality

from ..models import CertificateRequest
from ._base import ActionError

LINK_SENDS = 3  # per address and window: a link is not a way to flood someone's inbox
LINK_WINDOW = datetime.timedelta(minutes=15)


def address_key(email: str) -> str:
    """The notice address as requests are matched by it (case-insensitive), hashed for keys and links."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def requests_with_address(municipality: Municipality, email: str):
    return CertificateRequest.objects.filter(municipality=municipality, notice_email__iexact=email.strip())


def send_requests_link(municipality: Municipality, email: str) -> None:
    """Send the link to 「申請の一覧」 to `email` when a request of this municipality has it as its notice
    address; silently nothing otherwise. Raises ActionError when this address asked too often."""
    email = email.strip()
    if not hit(f"requests-link:{municipality.pk}:{address_key(email)}", LINK_SENDS, LINK_WINDOW):
        raise ActionError(_("リンクの送信回数が多すぎます。15分ほど時間をおいてから、もう一度お試しください。"))
    latest = requests_with_address(municipality, email).order_by("-created_at", "-id").first()
    if latest is None:
        return
    with transaction.atomic():
        enqueue_notice(latest, "requests_link", key=f"requests_link:{secrets.token_hex(8)}")
