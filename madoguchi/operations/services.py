"""The access log: who saw whose personal data."""

from madoguchi.core.http import client_ip

from .models import AccessLog


def log_access(http_request, action: str, *, request=None, resident=None) -> None:
    staff = http_request.user
    AccessLog.objects.create(municipality_id=staff.municipality_id, staff=staff, action=action,
                             request=request, resident=resident, ip_address=client_ip(http_request))
