"""`manage.py backup --output FILE`: an encrypted, verifiable backup of the PostgreSQL database
(madoguchi/operations/backups.py; docs/operations.md#backups)."""

from django.core.management.base import BaseCommand, CommandError

from madoguchi.operations.backups import BackupError, backup


class Command(BaseCommand):
    help = "Write an encrypted backup of the PostgreSQL database (pg_dump in one snapshot)."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True)

    def handle(self, *args, output, **options):
        try:
            manifest = backup(output)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(manifest["counts"].values())
        self.stdout.write(f"backup written to {output}: {len(manifest['counts'])} tables, {rows} rows")
