"""Staff accounts a manager administers: one-time invitations (password and TOTP enrollment by the
invitee, never by the manager), resets, role changes and deactivation.

A municipality always keeps one active manager who can sign in: otherwise nobody could administer it
without the service operator. A deactivated account's sessions end at once (its rows in the session
table are deleted), not when they would have expired.
"""

import datetime
import hashlib
import secrets

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import InvitationPurpose, Municipality, Role, Staff, StaffInvitation

INVITATION_LIFETIME = datetime.timedelta(days=3)


class StaffError(ValueError):
    pass


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _new_invitation(staff: Staff, purpose: str, by: Staff | None) -> str:
    """A fresh one-time token for `staff`; earlier unused links of that person stop working."""
    StaffInvitation.objects.filter(municipality=staff.municipality, staff=staff, used_at__isnull=True).update(
        used_at=timezone.now())
    token = secrets.token_urlsafe(32)
    StaffInvitation.objects.create(municipality=staff.municipality, staff=staff, token_hash=_hash(token),
                                   purpose=purpose, created_by=by, expires_at=timezone.now() + INVITATION_LIFETIME)
    return token


@transaction.atomic
def invite(municipality: Municipality, *, username: str, full_name: str, email: str, role: str,
           seal_custodian: bool = False, by: Staff | None) -> tuple[Staff, str]:
    """A new account without password or TOTP, and the token of its one-time link."""
    if role not in Role.values:
        raise StaffError(_("役割を選んでください。"))
    if Staff.objects.filter(username__iexact=username).exists():
        raise StaffError(_("このユーザー名はすでに使われています。"))
    family, _sep, given = full_name.strip().partition(" ")
    staff = Staff(username=username, municipality=municipality, role=role, email=email, last_name=family,
                  first_name=given, seal_custodian=seal_custodian)
    staff.set_unusable_password()
    staff.save()
    return staff, _new_invitation(staff, InvitationPurpose.INVITE, by)


def find_invitation(token: str) -> StaffInvitation | None:
    """The unused, unexpired invitation of `token` (None for anything else, with no hint why)."""
    if not token or len(token) > 100 or not token.isascii():
        return None
    invitation = (StaffInvitation.objects.filter(token_hash=_hash(token), used_at__isnull=True,
                                                 expires_at__gt=timezone.now())
                  .select_related("staff", "municipality").sole())
    if invitation is None or not invitation.staff.is_active:
        return None
    return invitation


@transaction.atomic
def accept_invitation(token: str, *, password: str, totp_secret: str, totp_step: int) -> Staff | None:
    """Sets the password and the TOTP secret the invitee proved by a code; the link is spent."""
    invitation = find_invitation(token)
    if invitation is None:
        return None
    spent = StaffInvitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(used_at=timezone.now())
    if spent != 1:
        return None  # used concurrently
    staff = invitation.staff
    staff.set_password(password)
    staff.totp_secret = totp_secret
    staff.totp_last_step = totp_step  # the code shown at enrollment is not accepted again at sign-in
    staff.save()
    return staff


def end_sessions(staff: Staff) -> int:
    """Delete every session signed in as `staff` (the database session backend)."""
    ended = [s.session_key for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
             if str(s.get_decoded().get("_auth_user_id")) == str(staff.pk)]
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def _active_managers(municipality: Municipality):
    return Staff.objects.select_for_update().filter(municipality=municipality, role=Role.MANAGER, is_active=True)


def _keeps_a_manager(staff: Staff, *, role: str, active: bool) -> None:
    """Refuse a change that leaves the municipality without an active manager who can sign in."""
    managers = [m for m in _active_managers(staff.municipality) if m.pk != staff.pk and m.totp_secret]
    if not managers and not (active and role == Role.MANAGER and staff.totp_secret):
        raise StaffError(_("有効な管理者が1人もいなくなるため、この変更はできません。"
                           "先に別の管理者を招待してください。"))


@transaction.atomic
def reset(staff: Staff, by: Staff) -> str:
    """Password and TOTP cleared, sessions ended; a new one-time link to set them again."""
    staff = Staff.objects.select_for_update().get(pk=staff.pk)
    if staff.role == Role.MANAGER and staff.is_active:  # without TOTP it no longer counts as a manager
        _keeps_a_manager(staff, role=staff.role, active=False)
    staff.totp_secret = ""
    staff.totp_last_step = 0
    staff.set_unusable_password()
    staff.save()
    end_sessions(staff)
    return _new_invitation(staff, InvitationPurpose.RESET, by)


@transaction.atomic
def deactivate(staff: Staff) -> None:
    staff = Staff.objects.select_for_update().get(pk=staff.pk)
    _keeps_a_manager(staff, role=staff.role, active=False)
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    StaffInvitation.objects.filter(municipality=staff.municipality, staff=staff, used_at__isnull=True).update(
        used_at=timezone.now())
    end_sessions(staff)


@transaction.atomic
def reactivate(staff: Staff, by: Staff) -> str:
    """Back, with a new password and TOTP through a one-time link."""
    Staff.objects.filter(pk=staff.pk).update(is_active=True)
    staff.refresh_from_db()
    return reset(staff, by)


@transaction.atomic
def change_role(staff: Staff, *, role: str, seal_custodian: bool) -> None:
    if role not in Role.values:
        raise StaffError(_("役割を選んでください。"))
    staff = Staff.objects.select_for_update().get(pk=staff.pk)
    _keeps_a_manager(staff, role=role, active=staff.is_active)
    staff.role, staff.seal_custodian = role, seal_custodian
    staff.save(update_fields=["role", "seal_custodian"])
    end_sessions(staff)  # the permissions change: sign in again
