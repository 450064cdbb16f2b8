"""Onboard a municipality: the tenant with the standard fee table and postage, its document-signing
key, and a first manager who receives a one-time invitation link (password and TOTP are set by the
manager, never by the operator).

    manage.py onboard_municipality 082198 "龍ケ崎市" --prefecture 茨城県 --manager ryugasaki.admin \\
        --manager-name "窓口 花子" [--certifier-name "萩原 勇"] [--contact "市民課 0297-..."]

The resident pages stay closed (a polite 準備中 page) until the manager completes the first-run
checklist in the back office and opens them. Provider credentials are entered separately by the
operator (`manage.py secrets set CODE NAME`).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from madoguchi.operations.onboarding import create_municipality
from madoguchi.tenancy import staffing
from madoguchi.tenancy.models import Municipality, Role, validate_municipality_code


def _clean(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF or c == "\ufffd" for c in value):
        raise CommandError(f"{what} contains control characters or broken text.")
    if len(value) > limit:
        raise CommandError(f"{what} is longer than {limit} characters.")
    return value


class Command(BaseCommand):
    help = "Create a municipality (standard fees, signing key) and invite its first manager."

    def add_arguments(self, parser):
        parser.add_argument("code", help="全国地方公共団体コード (6 digits with its check digit)")
        parser.add_argument("name", help="団体名, e.g. 龍ケ崎市")
        parser.add_argument("--prefecture", required=True)
        parser.add_argument("--manager", required=True, help="user name of the first manager")
        parser.add_argument("--manager-name", default="", help="氏名 of the first manager (姓 名)")
        parser.add_argument("--manager-email", default="")
        parser.add_argument("--certifier-name", default="", help="認証者の氏名 (the manager may enter it later)")
        parser.add_argument("--contact", default="", help="問い合わせ先 shown to residents")

    def handle(self, *args, code, name, prefecture, manager, manager_name, manager_email, certifier_name, contact,
               **options):
        code = code.strip()
        try:
            validate_municipality_code(code)
        except ValidationError as exc:
            raise CommandError(f"Municipality code {code!r}: {' '.join(exc.messages)}") from None
        if Municipality.objects.filter(code=code).exists():
            raise CommandError(f"Municipality {code} already exists.")
        name, prefecture = _clean(name, "name", 50), _clean(prefecture, "prefecture", 10)
        if not name or not prefecture:
            raise CommandError("name and --prefecture must not be empty.")
        try:
            with transaction.atomic():
                municipality = create_municipality(
                    code=code, name=name, prefecture=prefecture, certifier_name=_clean(certifier_name, "certifier", 50),
                    contact=_clean(contact, "contact", 500), launched=False)
                staff, token = staffing.invite(municipality, username=_clean(manager, "manager", 40),
                                               full_name=_clean(manager_name, "manager name", 60),
                                               email=manager_email.strip(), role=Role.MANAGER, by=None)
        except (ValidationError, staffing.StaffError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        link = settings.SITE_URL.rstrip("/") + reverse("backoffice:invitation", args=[token])
        self.stdout.write(f"Created {municipality.code} {municipality.full_name} (resident pages closed until the "
                          f"first-run checklist is complete).")
        self.stdout.write(f"First manager {staff.username}: one-time invitation link (valid "
                          f"{staffing.INVITATION_LIFETIME.days} days):")
        self.stdout.write(link)
