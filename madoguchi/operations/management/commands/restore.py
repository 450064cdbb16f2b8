"""`manage.py restore FILE --database-url postgres://.../new_db [--verify]`: restore an encrypted
backup into an empty database and, with --verify, prove it complete and its secrets readable."""

from django.core.management.base import BaseCommand, CommandError

from madoguchi.operations.backups import BackupError, restore


class Command(BaseCommand):
    help = "Restore an encrypted backup into an empty PostgreSQL database; --verify checks it."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--database-url", required=True, help="an empty database to restore into")
        parser.add_argument("--verify", action="store_true")

    def handle(self, *args, file, database_url, verify, **options):
        try:
            report = restore(file, database_url, verify)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored the backup of {report.manifest['created_at']}")
        if verify:
            if report.problems:
                raise CommandError("verification failed:\n" + "\n".join(report.problems))
            self.stdout.write(f"verified: {report.tables} tables, {report.rows} rows as in the backup; "
                              f"{report.totp_secrets} TOTP secrets and {report.signing_keys} signing keys decrypt")
