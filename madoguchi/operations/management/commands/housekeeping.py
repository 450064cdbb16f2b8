"""`python manage.py housekeeping`: the periodic sweep, run every few minutes from cron or a scheduler.

Expires abandoned drafts and unpaid requests, delivers notices whose retry time has come (a
safety net for retries whose deferred task was lost), asks payment providers about stale pending
payments, resends refunds whose answer was lost, enqueues the refresh of the JPKI CRLs, and handles
LINE events still waiting after their task was lost.
"""

from django.core.management.base import BaseCommand

from madoguchi.applications.actions import expire_abandoned
from madoguchi.identity.tasks import refresh_revocation_data
from madoguchi.line.tasks import process_stale
from madoguchi.notifications.tasks import deliver_due
from madoguchi.payments.services import recover_pending, retry_refunds


class Command(BaseCommand):
    help = "Expire abandoned requests and deliver due notices."

    def handle(self, *args, **options):
        expired = expire_abandoned()
        sent = deliver_due()
        recovered, resent = recover_pending(), retry_refunds()
        refresh_revocation_data.enqueue()
        events = process_stale()
        self.stdout.write(f"expired {expired} requests, sent {sent} notices, recovered {recovered} payments, "
                          f"resent {resent} refunds, handled {events} LINE events")
