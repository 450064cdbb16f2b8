"""The one API through which every app writes the audit trail and the access log.

    from madoguchi.operations import audit
    audit.record(audit.AuditAction.APPROVED, http_request=http_request, target=request)
    audit.record(audit.AuditAction.SETTING_CHANGED, actor=manager, target=("catalog.fee", fee.pk, "住民票 窓口"),
                 before={"amount": 300}, after={"amount": 200})
    audit.log_access(http_request, "view_request", request=request, resident=request.resident)

Rows are appended to their municipality's hash chain (`operations.chain`); the service operator
(staff without a municipality) has a chain of its own. Nothing here writes to the application log:
the trail holds ids and reception numbers, never names or addresses, and the application log
holds neither (個人情報保護法 第66条: 安全管理措置).
"""

import ipaddress

from django.db import models
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.ipv6 import clean_ipv6_address

from madoguchi.core.http import client_ip

from .chain import ACCESS, AUDIT, append, canonical_json
from .models import AccessLog, AuditAction, AuditEvent

__all__ = ["AuditAction", "record", "log_access"]


def _ip(value: str | None) -> str | None:
    """The address as the database stores it (the hash must match what is read back)."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return clean_ipv6_address(str(address)) if address.version == 6 else str(address)


def _target(target) -> tuple[str, str, str, int | None]:
    """(type, id, label, resident id) of what was acted on. A request is labelled by its
    reception number and names its resident; any other model instance by its label and pk."""
    if target is None:
        return "", "", "", None
    if isinstance(target, tuple):
        kind, pk, label = target
        return str(kind)[:60], str(pk)[:64], str(label)[:100], None
    if isinstance(target, models.Model):
        from madoguchi.applications.models import CertificateRequest

        label = ""
        resident_id = None
        if isinstance(target, CertificateRequest):
            label = target.formatted_reception_number or str(target.public_id)
            resident_id = target.resident_id
        return target._meta.label_lower, str(target.pk), label, resident_id
    raise TypeError("target must be a model instance or a (type, id, label) tuple")


def record(action: str, *, http_request=None, actor=None, municipality=None, target=None, resident=None,
           resident_id: int | None = None, before=None, after=None, ip: str | None = None) -> AuditEvent:
    """Append one event to the trail. The actor and address come from `http_request` when given;
    the municipality from the actor unless named (None for the service operator). The person
    concerned (`resident` or `resident_id`) defaults to the resident of a request target.
    `before`/`after` are JSON-serialisable values (settings: the changed fields only)."""
    action = AuditAction(action)  # an unknown action is a programming error
    if http_request is not None:
        if actor is None and getattr(http_request, "user", None) is not None and http_request.user.is_authenticated:
            actor = http_request.user
        ip = ip or client_ip(http_request)
    if municipality is None and actor is not None:
        municipality_id = actor.municipality_id
    else:
        municipality_id = municipality.pk if municipality is not None else None
    target_type, target_id, target_label, target_resident = _target(target)
    if resident is not None:
        resident_id = resident.pk
    elif resident_id is None:
        resident_id = target_resident
    return append(AUDIT, municipality_id=municipality_id, at=timezone.now(),
                  actor_id=actor.pk if actor is not None else None,
                  actor_name=force_str(actor.get_username()) if actor is not None else "",
                  action=str(action), target_type=target_type, target_id=target_id, target_label=target_label,
                  resident_id=resident_id, before=canonical_json(before), after=canonical_json(after),
                  ip_address=_ip(ip))


def log_access(http_request, action: str, *, request=None, resident=None) -> AccessLog:
    """Who saw whose personal data (the access log)."""
    staff = http_request.user
    return append(ACCESS, municipality_id=staff.municipality_id, at=timezone.now(), staff_id=staff.pk,
                  action=action[:40], request_id=request.pk if request is not None else None,
                  resident_id=resident.pk if resident is not None else None, ip_address=_ip(client_ip(http_request)))
