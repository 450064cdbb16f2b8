"""`python manage.py stats rebuild [--municipality CODE]`: recompute the statistics' aggregate
tables from the request events, the registered counter and mail requests and the imported
convenience-store reports (after a restore, or a change of how a figure is counted)."""

import time

from django.core.management.base import BaseCommand, CommandError

from madoguchi.operations import stats
from madoguchi.tenancy.models import Municipality


class Command(BaseCommand):
    help = "Rebuild the statistics' aggregate tables."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        rebuild = sub.add_parser("rebuild")
        rebuild.add_argument("--municipality")

    def handle(self, *args, **options):
        municipalities = Municipality.objects.order_by("code")
        if options["municipality"] is not None:
            municipalities = municipalities.filter(code=options["municipality"][:6])
            if not municipalities.exists():
                raise CommandError(f"no municipality {options['municipality'][:6]!r}")
        for municipality in municipalities:
            started = time.perf_counter()
            rows = stats.rebuild(municipality)
            self.stdout.write(f"{municipality.code}: {rows} aggregate rows in {time.perf_counter() - started:.1f} s")
