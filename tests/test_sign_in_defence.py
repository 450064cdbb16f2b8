"""Sign-in defence: delays per address, per account from an address, per account and globally; the
real clerk is never locked out by someone else; every sign-in, failure and delay is recorded."""

import datetime
import json
import logging

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.backoffice import auth
from madoguchi.core.models import Throttle
from madoguchi.core.throttle import BASE_DELAY
from madoguchi.operations.models import AuditEvent
from madoguchi.tenancy.models import Staff

from .test_backoffice import PASSWORD, make_staff

pytestmark = pytest.mark.django_db(transaction=True)
LOGIN = "/office/login/"


def from_ip(ip: str, client: Client | None = None) -> Client:
    client = client or Client()
    client.defaults["REMOTE_ADDR"] = ip
    return client


def try_password(client: Client, username: str, password: str):
    return client.post(reverse("backoffice:login"), {"username": username, "password": password})


def full_sign_in(client: Client, staff) -> bool:
    response = try_password(client, staff.username, PASSWORD)
    if response.status_code != 302:
        return False
    response = client.post(reverse("backoffice:totp"), {"code": pyotp.TOTP(staff.totp_secret).now()})
    return response.status_code == 302 and response.url == reverse("backoffice:queue")


def events(caplog, name=None) -> list[dict]:
    """The sign-in events as the audit trail holds them (caplog is kept in the signatures only)."""
    found = [{"event": e.action, "staff_id": e.actor_id, "municipality_id": e.municipality_id,
              "ip": e.ip_address, **json.loads(e.after or "{}")} for e in AuditEvent.objects.order_by("id")]
    return [e for e in found if name is None or e["event"] == name]


def age_counters(seconds: int) -> None:
    """The passing of time, for the counters only."""
    for row in Throttle.objects.filter(key__startswith="signin:"):
        row.window_start -= datetime.timedelta(seconds=seconds)
        row.save(update_fields=["window_start"])


def test_one_address_trying_many_user_names_is_slowed(municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    make_staff(municipality, "clerk")
    attacker = from_ip("203.0.113.7")
    for n in range(auth.FREE_PER_ADDRESS):
        response = try_password(attacker, f"user{n}", "guess-guess-1")
        assert "ユーザー名またはパスワードが違います" in response.content.decode()
    response = try_password(attacker, "clerk", PASSWORD)  # even a right password waits now
    assert response.status_code == 200
    assert "以降にもう一度お試しください" in response.content.decode()
    assert len(events(caplog, "sign_in_failed")) == auth.FREE_PER_ADDRESS
    assert events(caplog, "sign_in_delayed")[0]["ip"] == "203.0.113.7"
    # Refused attempts are not counted and write nothing.
    rows = dict(Throttle.objects.values_list("key", "count"))
    for _ in range(20):
        try_password(attacker, "someone", "guess-guess-1")
    assert dict(Throttle.objects.values_list("key", "count")) == rows


def test_wrong_passwords_from_elsewhere_do_not_lock_the_clerk_out(municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    clerk = make_staff(municipality, "clerk")
    attacker = from_ip("198.51.100.9")
    for _ in range(12):
        try_password(attacker, "clerk", "wrong-password!")
    assert "以降にもう一度お試しください" in try_password(attacker, "clerk", PASSWORD).content.decode()
    assert full_sign_in(from_ip("192.0.2.10"), clerk)
    assert [e["staff_id"] for e in events(caplog, "sign_in")] == [clerk.pk]


def test_wrong_totp_codes_from_elsewhere_do_not_lock_the_clerk_out(municipality):
    clerk = make_staff(municipality, "clerk")
    attacker = from_ip("198.51.100.9")
    try_password(attacker, "clerk", PASSWORD)  # the attacker knows the password
    for _ in range(12):
        attacker.post(reverse("backoffice:totp"), {"code": "000000"})
    response = attacker.post(reverse("backoffice:totp"), {"code": pyotp.TOTP(clerk.totp_secret).now()})
    assert "以降にもう一度お試しください" in response.content.decode()
    assert full_sign_in(from_ip("192.0.2.10"), clerk)


def test_a_distributed_attack_on_one_account_delays_unknown_devices_only(municipality):
    clerk = make_staff(municipality, "clerk")
    own_pc = from_ip("192.0.2.10")
    assert full_sign_in(own_pc, clerk)  # earlier today: the PC got the device cookie
    own_pc.post(reverse("backoffice:logout"))
    Staff.objects.filter(pk=clerk.pk).update(totp_last_step=0)  # a later code, as hours later
    for n in range(auth.FREE_PER_ACCOUNT + 1):
        try_password(from_ip(f"198.51.{n // 200}.{n % 200 + 1}"), "clerk", "wrong-password!")
    # A clean address, but not a device that signed in before: told when to retry.
    response = try_password(from_ip("192.0.2.99"), "clerk", PASSWORD)
    assert response.status_code == 200 and "以降にもう一度お試しください" in response.content.decode()
    # The clerk's own PC still gets in.
    assert full_sign_in(own_pc, clerk)


def test_a_forged_device_cookie_is_not_trusted(municipality):
    clerk = make_staff(municipality, "clerk")
    for n in range(auth.FREE_PER_ACCOUNT + 1):
        try_password(from_ip(f"198.51.100.{n + 1}"), "clerk", "wrong-password!")
    forger = from_ip("192.0.2.50")
    forger.cookies[auth.DEVICE_COOKIE] = f"{clerk.pk}:forged"
    assert "以降にもう一度お試しください" in try_password(forger, "clerk", PASSWORD).content.decode()


def test_the_delay_ends_and_grows_with_each_further_failure(municipality):
    clerk = make_staff(municipality, "clerk")
    client = from_ip("203.0.113.7")
    for _ in range(auth.FREE_PER_ACCOUNT_AND_ADDRESS):
        try_password(client, "clerk", "wrong-password!")
    key = f"signin:pair:{clerk.pk}:203.0.113.7"
    first = auth.retry_after(key, auth.FREE_PER_ACCOUNT_AND_ADDRESS)
    assert first is not None
    age_counters(BASE_DELAY)
    try_password(client, "clerk", "wrong-password!")  # allowed again, fails, waits twice as long
    second = auth.retry_after(key, auth.FREE_PER_ACCOUNT_AND_ADDRESS)
    row = Throttle.objects.get(key=key)
    assert (second - row.window_start).total_seconds() == 2 * BASE_DELAY
    age_counters(2 * BASE_DELAY)
    assert full_sign_in(client, clerk)
    assert not Throttle.objects.filter(key=key).exists()  # the clerk's own counters are cleared


def test_sign_out_and_failures_are_recorded_without_the_password(municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    clerk = make_staff(municipality, "clerk")
    client = from_ip("192.0.2.10")
    try_password(client, "clerk", "wrong-password!")
    assert full_sign_in(client, clerk)
    client.post(reverse("backoffice:logout"))
    kinds = [e["event"] for e in events(caplog)]
    assert kinds == ["sign_in_failed", "sign_in", "sign_out"]
    assert all("wrong-password!" not in r.getMessage() for r in caplog.records)
    assert events(caplog, "sign_in_failed")[0]["username"] == "clerk"
