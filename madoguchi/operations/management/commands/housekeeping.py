"""`python manage.py housekeeping`: the periodic sweep, run every few minutes from cron or a scheduler.

The chores are contributed by the apps (`madoguchi.operations.housekeeping`): expiring abandoned
drafts and unpaid requests, delivering notices whose retry time has come (a safety net for retries
whose deferred task was lost), asking payment providers about stale pending payments, resending
refunds whose answer was lost, enqueueing the refresh of the JPKI CRLs, and handling LINE events
still waiting after their task was lost.
"""

from django.core.management.base import BaseCommand

from madoguchi.operations.housekeeping import chores


class Command(BaseCommand):
    help = "Run the periodic chores of every app (expiry, due notices, payment recovery, CRLs, LINE)."

    def handle(self, *args, **options):
        done = []
        for chore in chores():
            count = chore.run()
            if count is not None:
                done.append(chore.report.format(n=count))
        self.stdout.write(", ".join(done))
