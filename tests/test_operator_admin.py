"""The operator admin: off by default; when on, only the service operator, with both factors, audited;
TOTP secrets encrypted at rest and never shown."""

import importlib
import json
import logging

import pyotp
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import clear_url_caches, reverse

from madoguchi.core import crypto
from madoguchi.operations.models import AuditEvent
from madoguchi.tenancy.models import Role, Staff

from .test_backoffice import PASSWORD, make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_on(settings):
    import madoguchi.urls

    settings.ADMIN_ENABLED = True
    importlib.reload(madoguchi.urls)
    clear_url_caches()
    yield
    settings.ADMIN_ENABLED = False
    importlib.reload(madoguchi.urls)
    clear_url_caches()


def make_operator(username="operator"):
    staff = Staff(username=username, municipality=None, is_superuser=True, is_staff=True,
                  totp_secret=pyotp.random_base32())
    staff.set_password(PASSWORD)
    staff.save()
    return staff


def sign_in_operator(staff) -> Client:
    client = Client()
    assert client.post(reverse("backoffice:login"), {"username": staff.username, "password": PASSWORD}).url == \
        reverse("backoffice:totp")
    response = client.post(reverse("backoffice:totp"), {"code": pyotp.TOTP(staff.totp_secret).now()})
    assert response.status_code == 302 and response.url == reverse("backoffice:operator"), response.content
    return client


def audit_events(caplog) -> list[dict]:
    """The sign-in and admin events as the audit trail holds them."""
    return [{"event": e.action, "staff_id": e.actor_id, "municipality_id": e.municipality_id,
             "ip": e.ip_address, **json.loads(e.after or "{}")} for e in AuditEvent.objects.order_by("id")]


def test_admin_is_not_mounted_by_default(municipality):
    assert Client().get("/admin/").status_code == 404
    assert Client().get("/admin/login/").status_code == 404


def test_operator_reaches_only_the_console_while_the_admin_is_off(municipality):
    client = sign_in_operator(make_operator())
    assert client.get(reverse("backoffice:operator")).status_code == 200
    assert client.get("/admin/").status_code == 404
    assert client.get(reverse("backoffice:queue")).status_code in (302, 403)  # never a municipality's residents


def test_admin_needs_password_and_totp_of_an_operator(admin_on, municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    operator = make_operator()
    anonymous = Client()
    response = anonymous.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("backoffice:login")
    assert anonymous.get("/admin/login/").url == reverse("backoffice:login")  # no password-only sign-in
    half = Client()
    half.post(reverse("backoffice:login"), {"username": operator.username, "password": PASSWORD})
    assert half.get("/admin/", follow=True).redirect_chain[-1][0] == reverse("backoffice:login")  # not yet
    client = sign_in_operator(operator)
    page = client.get("/admin/tenancy/municipality/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    events = audit_events(caplog)
    assert any(e["event"] == "sign_in" and e["staff_id"] == operator.pk for e in events)
    assert any(e["event"] == "admin_request" and e["path"] == "/admin/tenancy/municipality/" for e in events)


def test_municipal_staff_never_get_in_even_as_superuser(admin_on, municipality, other_municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    boss = make_staff(municipality, "boss", role=Role.MANAGER)
    Staff.objects.filter(pk=boss.pk).update(is_superuser=True, is_staff=True)
    client = signed_in(boss)
    response = client.get("/admin/tenancy/municipality/")
    assert response.status_code == 403
    response = client.post(f"/admin/tenancy/municipality/{other_municipality.pk}/change/", {"name": "乗っ取り市"})
    assert response.status_code == 403
    other_municipality.refresh_from_db()
    assert other_municipality.name == "龍ケ崎市"
    assert any(e["event"] == "admin_refused" and e["staff_id"] == boss.pk for e in audit_events(caplog))


def test_admin_never_shows_a_totp_secret(admin_on, municipality):
    clerk = make_staff(municipality, "clerk")
    client = sign_in_operator(make_operator())
    page = client.get(f"/admin/tenancy/staff/{clerk.pk}/change/").content.decode()
    assert clerk.totp_secret not in page and "totp_secret" not in page
    listing = client.get("/admin/tenancy/staff/").content.decode()
    assert clerk.totp_secret not in listing


def test_totp_secret_is_encrypted_at_rest(municipality):
    clerk = make_staff(municipality, "clerk")
    with connection.cursor() as cursor:
        cursor.execute("SELECT totp_secret FROM tenancy_staff WHERE id = %s", [clerk.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("v1:") and clerk.totp_secret not in stored
    assert Staff.objects.get(pk=clerk.pk).totp_secret == clerk.totp_secret
    # The ciphertext is bound to its column: it does not decrypt as anything else.
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(stored, "tenancy.staff.password")
    # Tampering is detected.
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(stored[:-6] + ("AAAA" if stored[-6:-2] != "AAAA" else "BBBB") + stored[-2:],
                       "tenancy.staff.totp_secret")


def test_rotation_re_encrypts_with_the_new_key_and_legacy_clear_secrets(municipality, monkeypatch):
    old = "k1=" + "A" * 43 + "="
    monkeypatch.setenv("MADOGUCHI_MASTER_KEYS", old)
    clerk = make_staff(municipality, "clerk")
    legacy = make_staff(municipality, "legacy")
    with connection.cursor() as cursor:  # a secret stored before encryption existed
        cursor.execute("UPDATE tenancy_staff SET totp_secret = %s WHERE id = %s", ["JBSWY3DPEHPK3PXP", legacy.pk])
    new = "k2=" + "B" * 43 + "="
    monkeypatch.setenv("MADOGUCHI_MASTER_KEYS", f"{new},{old}")
    monkeypatch.setenv("MADOGUCHI_MASTER_KEY_ID", "k2")
    call_command("staff_totp", "--reencrypt")
    monkeypatch.setenv("MADOGUCHI_MASTER_KEYS", new)
    monkeypatch.delenv("MADOGUCHI_MASTER_KEY_ID")
    assert Staff.objects.get(pk=clerk.pk).totp_secret == clerk.totp_secret
    assert Staff.objects.get(pk=legacy.pk).totp_secret == "JBSWY3DPEHPK3PXP"
    with connection.cursor() as cursor:
        cursor.execute("SELECT totp_secret FROM tenancy_staff ORDER BY id")
        assert all(row[0].startswith("v1:k2:") for row in cursor.fetchall())


def test_enrolment_shows_the_secret_once_and_stores_it_encrypted(municipality, capsys):
    clerk = make_staff(municipality, "clerk")
    before = clerk.totp_secret
    call_command("staff_totp", "clerk")
    out = capsys.readouterr().out
    clerk.refresh_from_db()
    assert clerk.totp_secret != before and clerk.totp_secret in out and "otpauth://" in out
    assert clerk.totp_last_step == 0
