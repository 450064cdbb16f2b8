"""The service operator's tool for per-municipality secrets (docs/scale.md, "Secrets").

    manage.py secrets set 082082 PAYPAY_API_KEY      # the value is read from standard input
    manage.py secrets list [082082]                  # which names are set, never their values
    manage.py secrets unset 082082 PAYPAY_API_KEY
    manage.py secrets rotate                         # re-encrypt all under MADOGUCHI_MASTER_KEY_ID

The value never appears on the command line (shell history, the process list) nor in any output.
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from madoguchi.tenancy import vault
from madoguchi.tenancy.models import Municipality, MunicipalitySecret


class Command(BaseCommand):
    help = "Set, list, unset and rotate the municipalities' encrypted provider secrets."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        set_ = sub.add_parser("set", help="Set a secret; the value is read from standard input.")
        set_.add_argument("code")
        set_.add_argument("name")
        listing = sub.add_parser("list", help="Which secrets are set (names only).")
        listing.add_argument("code", nargs="?")
        unset = sub.add_parser("unset", help="Remove a secret.")
        unset.add_argument("code")
        unset.add_argument("name")
        sub.add_parser("rotate", help="Re-encrypt every secret under the active master key.")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except vault.SecretError as exc:
            raise CommandError(str(exc)) from None

    def _municipality(self, code: str) -> Municipality:
        municipality = Municipality.objects.filter(code=code).first() if code.isascii() and code.isdigit() else None
        if municipality is None:
            raise CommandError(f"no municipality with code {code!r}")
        return municipality

    def _set(self, code, name, stdin=None, **_options):
        municipality = self._municipality(code)
        vault.validate_name(name)
        stdin = stdin or sys.stdin
        if stdin.isatty():
            value = getpass.getpass(f"{name} for {code}: ")
        else:
            # One value, with its line break removed; a PEM key keeps its inner lines.
            value = stdin.read(vault.MAX_VALUE_BYTES + 2).removesuffix("\n").removesuffix("\r")
        secret = vault.set_secret(municipality, name, value)
        self.stdout.write(f"set {code} {name} (master key {secret.key_id})")

    def _list(self, code=None, **_options):
        rows = MunicipalitySecret.objects.select_related("municipality").order_by("municipality__code", "name")
        if code:
            rows = rows.for_municipality(self._municipality(code))
        active = vault.master_keys().active
        for secret in rows:
            stale = "" if secret.key_id == active else "  (old master key: run rotate)"
            self.stdout.write(f"{secret.municipality.code}\t{secret.name}\t{secret.key_id}\t"
                              f"{timezone.localtime(secret.updated_at):%Y-%m-%d %H:%M}{stale}")

    def _unset(self, code, name, **_options):
        if not vault.delete_secret(self._municipality(code), vault.validate_name(name)):
            raise CommandError(f"{name} is not set for {code}")
        self.stdout.write(f"unset {code} {name}")

    def _rotate(self, **_options):
        count = vault.rotate()
        self.stdout.write(f"re-encrypted {count} secret(s) under master key {vault.master_keys().active}")
