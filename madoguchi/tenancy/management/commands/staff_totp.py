"""`manage.py staff_totp <username>`: enrol (or re-enrol) a staff member's authenticator app.

Prints the new secret and its otpauth:// URI (with a QR code) once, to the operator's terminal; the
secret is stored encrypted with the master key and no screen shows it again.
`manage.py staff_totp --reencrypt` re-encrypts every secret under the active master key (after a
rotation, or to encrypt secrets stored before encryption existed).
"""

import io

import pyotp
import segno
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from madoguchi.tenancy.models import Staff


class Command(BaseCommand):
    help = "Enrol a staff member's TOTP authenticator, or re-encrypt all TOTP secrets."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--reencrypt", action="store_true")

    def handle(self, *args, username=None, reencrypt=False, **options):
        if reencrypt:
            count = 0
            with transaction.atomic():
                for staff in Staff.objects.select_for_update().exclude(totp_secret=""):
                    staff.save(update_fields=["totp_secret"])  # read in clear, written under the active key
                    count += 1
            self.stdout.write(f"re-encrypted {count} TOTP secrets")
            return
        staff = Staff.objects.filter(username=username or "").first()
        if staff is None:
            raise CommandError(f"no staff member {username!r}")
        secret = pyotp.random_base32()
        staff.totp_secret, staff.totp_last_step = secret, 0
        staff.save(update_fields=["totp_secret", "totp_last_step"])
        uri = pyotp.TOTP(secret).provisioning_uri(name=staff.username, issuer_name="Madoguchi")
        qr = io.StringIO()
        segno.make(uri, error="l").terminal(out=qr, compact=True)
        self.stdout.write(f"TOTP secret of {staff.username} (shown only now): {secret}\n{uri}\n")
        self.stdout.write(qr.getvalue(), ending="")
