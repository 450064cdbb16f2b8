"""`python manage.py housekeeping`: the periodic sweep, run every few minutes from cron or a scheduler.

Expires abandoned drafts and unpaid requests, and delivers notices whose retry time has come (a
safety net for retries whose deferred task was lost).
"""

from django.core.management.base import BaseCommand

from madoguchi.applications.actions import expire_abandoned
from madoguchi.line.tasks import process_stale
from madoguchi.notifications.tasks import deliver_due


class Command(BaseCommand):
    help = "Expire abandoned requests and deliver due notices."

    def handle(self, *args, **options):
        expired = expire_abandoned()
        sent = deliver_due()
        events = process_stale()
        self.stdout.write(f"expired {expired} requests, sent {sent} notices, handled {events} LINE events")
