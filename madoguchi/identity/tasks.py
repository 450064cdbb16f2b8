"""Background work for identity: keeping revocation data fresh (signatures fail closed without it)."""

from django_tasks import task

from . import trust


@task(queue_name="bulk")
def refresh_revocation_data() -> list[str]:
    """Fetch every published CRL of the active trust anchors (enqueued by the housekeeping sweep)."""
    return trust.refresh_revocation_data()
