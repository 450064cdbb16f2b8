"""The inputs of the attack run that gave 500: NUL bytes, lone surrogates and deeply nested JSON.

Each must get a clear 4xx answer and change nothing. On PostgreSQL a NUL in a query parameter or a
text column, and a NUL or lone surrogate in a jsonb value, is an error from the database itself, so
these tests matter most there; on SQLite they hold too.
"""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, State
from madoguchi.core.inputs import UnsafeInput, loads
from madoguchi.line.models import WebhookEvent
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.models import ProviderNotification

from .flow import draft, received
from .line_helpers import make_channel, post
from .test_backoffice import make_staff, signed_in
from .test_gmo_pg import SHOP_ID, SHOP_PASS
from .test_paypay import KEY, MERCHANT, SECRET

pytestmark = pytest.mark.django_db(transaction=True)
NUL, SURROGATE = "\x00", "\\ud800"


def client() -> Client:
    return Client(raise_request_exception=False)


def assert_refused(response, status=400):
    assert response.status_code == status, (response.status_code, response.content[:300])


@pytest.fixture
def paypay_env(municipality, monkeypatch):
    code = municipality.code
    for name, value in {f"MADOGUCHI_PAYMENT_PROVIDER_{code}": "paypay", f"MADOGUCHI_PAYPAY_API_KEY_{code}": KEY,
                        f"MADOGUCHI_PAYPAY_API_SECRET_{code}": SECRET,
                        f"MADOGUCHI_PAYPAY_MERCHANT_ID_{code}": MERCHANT,
                        "MADOGUCHI_PAYPAY_BASE_URL": "http://127.0.0.1:9", "MADOGUCHI_PAYPAY_TIMEOUT": "0.5"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def gmo_env(municipality, monkeypatch):
    code = municipality.code
    for name, value in {f"MADOGUCHI_GMO_PG_SHOP_ID_{code}": SHOP_ID, f"MADOGUCHI_GMO_PG_SHOP_PASS_{code}": SHOP_PASS,
                        "MADOGUCHI_GMO_PG_API_URL": "http://127.0.0.1:9", "MADOGUCHI_GMO_PG_TIMEOUT": "0.5"}.items():
        monkeypatch.setenv(name, value)


# --- the payment providers' notify and return --------------------------------------------------------

def test_nul_in_paypay_notification_is_refused(paypay_env):
    body = json.dumps({"merchant_order_id": "ord" + NUL, "state": "COMPLETED"}).encode()
    assert_refused(client().post(reverse("payments:notify", args=["paypay"]), data=body,
                                 content_type="application/json"))
    assert not ProviderNotification.objects.exists()


def test_nul_in_paypay_return_is_refused(paypay_env):
    response = client().get(reverse("payments:return", args=["paypay"]), {"order_id": "ord" + NUL, "sig": "0" * 64})
    assert_refused(response)
    assert "ご確認ください" in response.content.decode() or "正しくない文字" in response.content.decode()


def test_nul_in_gmo_notification_is_refused(gmo_env):
    response = client().post(reverse("payments:notify", args=["gmo_pg"]),
                             data=f"ShopID={SHOP_ID}&OrderID=ord%00x&Status=CAPTURE",
                             content_type="application/x-www-form-urlencoded")
    assert_refused(response)
    assert not ProviderNotification.objects.exists()


def test_nul_inside_the_gmo_return_result_is_refused(gmo_env):
    from madoguchi.payments.contrib.gmo_pg.provider import encode

    alpha = encode({"OrderID": "ord" + NUL})
    response = client().get(reverse("payments:return", args=["gmo_pg"]), {"result": f"{alpha}.{'0' * 64}"})
    assert_refused(response)
    response = client().get(reverse("payments:return", args=["gmo_pg"]), {"result": "a" + NUL + "." + "0" * 64})
    assert_refused(response)


# --- the signed sandbox notification: NUL, lone surrogates, deep JSON --------------------------------

def _signed_sandbox(text: str):
    t = str(int(time.time()))
    body = text.encode("utf-8")
    header = f"t={t},v1={gateway.mac(f'{t}.{text}')}"
    return client().post(reverse("payments:notify", args=["sandbox"]), data=body, content_type="application/json",
                         headers={"X-Sandbox-Signature": header})


@pytest.mark.parametrize("text", [
    '{"event_id": "ev\\u0000", "order_id": "o", "charge_id": "c", "status": "captured", "amount": 1}',
    '{"event_id": "ev' + SURROGATE + '", "order_id": "o", "charge_id": "c", "status": "captured", "amount": 1}',
    "[" * 8000 + "]" * 8000,  # under the 16 KiB body limit, over the interpreter's stack
], ids=["nul", "lone-surrogate", "deep"])
def test_hostile_signed_sandbox_notification_is_refused(municipality, text):
    assert_refused(_signed_sandbox(text))
    assert not ProviderNotification.objects.exists()


# --- the LINE webhook (signed) -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    '{"events": [{"type": "message", "webhookEventId": "01A", "message": {"type": "text", "text": "a\\u0000"}}]}',
    '{"events": [{"type": "message", "webhookEventId": "01A", "message": {"type": "text", "text": "'
    + SURROGATE + '"}}]}',
    '{"events": ' + "[" * 60_000 + "]" * 60_000 + "}",
], ids=["nul", "lone-surrogate", "deep"])
def test_hostile_signed_line_webhook_is_refused(municipality, settings, text):
    settings.LINE_WEBHOOK_MAX_BODY = 200 * 1024
    make_channel(municipality)
    assert_refused(post(municipality.code, text.encode(), client=client()))
    assert not WebhookEvent.objects.exists()


# --- the resident's `signed` return and the clerk's forms ---------------------------------------------

def test_nul_in_the_signed_nonce_is_refused(municipality, resident):
    request = draft(municipality)
    response = client().post(reverse("identity_sandbox:returned"),
                             {"nonce": "n" + NUL, "certificate": "", "signature": ""})
    assert_refused(response)
    assert "正しくない文字" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.DRAFT


def test_nul_in_a_reject_reason_or_tracking_number_is_refused(municipality, resident):
    request = received(municipality, resident)
    clerk = signed_in(make_staff(municipality, "clerk"), client())
    assert_refused(clerk.post(reverse("backoffice:reject", args=[request.public_id]), {"reason": "理由" + NUL}))
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    actions.approve(request, make_staff(municipality, "reviewer"))
    issued = CertificateRequest.objects.get(pk=request.pk)
    assert_refused(clerk.post(reverse("backoffice:mailed", args=[issued.public_id]),
                              {"tracking_number": "1234" + NUL}))


def test_lone_surrogate_bytes_in_a_form_field_are_answered(municipality):
    # A lone surrogate cannot be sent in UTF-8: its bytes arrive as invalid UTF-8, which Django
    # replaces with U+FFFD. The page answers as for any unknown number.
    response = client().post(reverse("web:status", args=[municipality.code]),
                             data=b"reception_number=%ED%A0%80&date_of_birth=1980-04-01",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200


# --- the helper itself --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ['"\\u0000"', '{"a\\u0000": 1}', '["\\udc00"]', '{"k": ["\\ud83d x"]}',
                                  "[" * 101 + "]" * 101, '{"a": ' * 101 + "1" + "}" * 101])
def test_loads_refuses_what_a_database_or_a_stack_cannot_take(text):
    with pytest.raises(UnsafeInput):
        loads(text, max_depth=100)


def test_loads_accepts_ordinary_json_with_pairs_and_brackets_in_strings():
    text = '{"t": "[[[[{{{{ \\ud83d\\ude00 \\" ]]", "n": [[1, 2], {"a": null}]}'
    assert loads(text, max_depth=3) == {"t": '[[[[{{{{ 😀 " ]]', "n": [[1, 2], {"a": None}]}


# --- what the back office shows and keeps ---------------------------------------------------------------

def test_back_office_pages_pdfs_and_csv_are_never_stored(municipality, resident):
    request = received(municipality, resident)
    staff = make_staff(municipality, "clerk")
    clerk = signed_in(staff, client())
    actions.approve(request, staff)
    printed = actions.record_printed([CertificateRequest.objects.get(pk=request.pk)], staff)
    for url in [reverse("backoffice:login"), reverse("backoffice:queue"),
                reverse("backoffice:detail", args=[request.public_id]),
                reverse("backoffice:document_pdf", args=[request.public_id]),
                reverse("documents_office:batch_pdf", args=[printed.pk]),
                reverse("documents_office:batch_mailing_csv", args=[printed.pk])]:
        response = clerk.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_bidi_controls_are_shown_as_code_points_to_clerks(municipality):
    from .conftest import make_resident
    from .flow import draft, pay, sign

    spoofed = "山田\u202e子花"
    resident = make_resident(municipality, name=spoofed)
    request = sign(draft(municipality), resident)  # the delivery name is taken from the replica
    pay(request)
    clerk = signed_in(make_staff(municipality, "clerk"), client())
    for url in [reverse("backoffice:queue"), reverse("backoffice:detail", args=[request.public_id])]:
        page = clerk.get(url).content.decode()
        assert "\u202e" not in page, url
        assert "山田[U+202E]子花" in page, url


def test_back_office_signs_out_after_idle_time_and_after_the_absolute_lifetime(municipality, settings):
    clerk = signed_in(make_staff(municipality, "clerk"), client())
    assert clerk.get(reverse("backoffice:queue")).status_code == 200
    session = clerk.session
    session["office_last_seen"] -= settings.BACKOFFICE_IDLE_TIMEOUT + 1
    session.save()
    response = clerk.get(reverse("backoffice:queue"))
    assert response.status_code == 302 and response.url == reverse("backoffice:login")
    assert clerk.get(reverse("backoffice:queue")).status_code == 302  # signed out, not just bounced once

    clerk = signed_in(make_staff(municipality, "clerk2"), client())
    session = clerk.session
    session["office_signed_in_at"] -= settings.BACKOFFICE_SESSION_MAX_AGE + 1
    session.save()
    response = clerk.get(reverse("backoffice:queue"), follow=True)
    assert "ログアウトしました" in response.content.decode()
