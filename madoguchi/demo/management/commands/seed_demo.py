"""`python manage.py seed_demo`: a demo municipality with synthetic residents and demo staff.

The synthetic replica is written as linkage files in the standard layout and loaded through the
replica importer, the path a municipality's core system feeds in production (docs/replica.md).
Safe to run again: an existing demo is kept and its sign-ins are printed once more.
"""

import io
import tempfile
from pathlib import Path

import pyotp
import segno
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from madoguchi.demo.replica_files import write_replica_files
from madoguchi.demo.synthetic import hard_cases
from madoguchi.identity.contrib.sandbox.card import DEMO_AUTH_PIN, DEMO_PIN, ensure_authority, issue_card
from madoguchi.line.models import LineAccount
from madoguchi.operations.onboarding import create_municipality
from madoguchi.registry.imports.loader import load
from madoguchi.registry.models import ImportState, Resident
from madoguchi.tenancy.models import Municipality, Role, Staff

DEMO_CODE = "139998"  # fictional 東京都窓口市; the last digit is the 総務省 check digit
DEMO_PASSWORD = "madoguchi-demo-2026"
# Fixed so the demo sign-in can be printed in the README; never reuse outside the demo.
DEMO_TOTP_SECRETS = {
    "clerk": "MADOGUCHIDEMOCLERKAAAAAAAAAAAAAA",
    "manager": "MADOGUCHIDEMOMANAGERAAAAAAAAAAAA",
    "auditor": "MADOGUCHIDEMOAUDITORAAAAAAAAAAAA",
}


class Command(BaseCommand):
    help = "Create the demo municipality, its synthetic replica, demo staff and virtual My Number Cards."

    def add_arguments(self, parser):
        parser.add_argument("--residents", type=int, default=1200)

    def handle(self, *args, **options):
        municipality = Municipality.objects.filter(code=DEMO_CODE).first()
        if municipality is None:
            with transaction.atomic():
                municipality = create_municipality(
                    code=DEMO_CODE, name="窓口市", prefecture="東京都", certifier_name="窓口 一郎",
                    contact="窓口市役所 市民課 電話 03-0000-0000(平日 8時30分〜17時15分)")
                with tempfile.TemporaryDirectory(prefix="madoguchi-demo-") as directory:
                    run = load(municipality, [write_replica_files(municipality, Path(directory),
                                                                  count=options["residents"])],
                               operator="seed_demo")
                if run.state != ImportState.APPLIED:
                    raise CommandError(f"The demo replica was not imported: {run.refusal_code} {run.refusal} "
                                       f"{run.rejections[:5]}")
                for role in Role.values:
                    staff = Staff(username=f"demo-{role}", municipality=municipality, role=role,
                                  first_name={"clerk": "花子", "manager": "次郎", "auditor": "三郎"}[role],
                                  last_name="窓口", totp_secret=DEMO_TOTP_SECRETS[role])
                    staff.set_password(DEMO_PASSWORD)
                    staff.save()
        ensure_authority()
        LineAccount.objects.get_or_create(municipality=municipality, defaults=dict(
            channel_id="2000000001", login_channel_id="2000000002", liff_id="2000000002-demo"))
        cases = hard_cases(list(Resident.objects.for_municipality(municipality)
                                      .select_related("household").order_by("id")))
        for resident in cases.values():
            issue_card(resident)
        self.report(municipality, cases)

    def report(self, municipality, cases):
        out = self.stdout.write
        base = settings.SITE_URL
        clerk_uri = pyotp.TOTP(DEMO_TOTP_SECRETS["clerk"]).provisioning_uri(name="demo-clerk", issuer_name="Madoguchi")
        out("")
        out(f"Demo municipality: {municipality.full_name} ({municipality.code}), "
            f"{Resident.objects.for_municipality(municipality).count()} residents in the replica")
        out(f"  Resident pages : {base}/m/{municipality.code}/")
        out(f"  Status page    : {base}/m/{municipality.code}/status/")
        out(f"  Back office    : {base}/office/")
        if settings.LINE_EMULATOR:
            out(f"  LINE (emulator): {base}/line-emulator/chat/{municipality.code}/")
        out("")
        out(f"Staff sign-in (password {DEMO_PASSWORD}, then the 6-digit code from an authenticator app):")
        for role, secret in DEMO_TOTP_SECRETS.items():
            out(f"  demo-{role:<8} TOTP secret {secret}")
        out("  Scan for demo-clerk:")
        qr = io.StringIO()
        segno.make(clerk_uri, error="l").terminal(out=qr, compact=True)
        self.stdout.write(qr.getvalue(), ending="")
        out(f"  Current code for demo-clerk: {pyotp.TOTP(DEMO_TOTP_SECRETS['clerk']).now()} (changes every 30 s)")
        out("")
        out(f"Virtual My Number Cards (sandbox): type the card number, signing PIN {DEMO_PIN} "
            f"(sign-in to 申請の一覧 with the user-authentication PIN {DEMO_AUTH_PIN})")
        for label, resident in cases.items():
            out(f"  {resident.person_number}  {resident.name}  ({label})")
        out("  Any resident's 宛名番号 works as a card number; 5 wrong PINs lock the card.")
        for label, resident in cases.items():
            entry = resident.koseki_entries.select_related("koseki").first()
            if entry is not None:
                koseki = entry.koseki
                out(f"  戸籍 of {resident.name} ({label}): 本籍 {koseki.honseki} / 筆頭者 {koseki.head_name}")
                break
        out(f"  Verify an issued certificate at {base}/verify/<発行番号> with its 照合番号.")
        out("Sandbox payment: test card 4242424242424242 pays, 4000000000000002 is declined.")
        out("")
