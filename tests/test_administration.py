"""Municipalities administer themselves (issue 14): manager screens, staff, onboarding, the operator
console; bad input of every kind gets a clear refusal and changes nothing."""

import datetime
import io
import json
import logging
import re
from decimal import Decimal

import pyotp
import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CatalogSettings, CertificateType, Fee
from madoguchi.documents import seals
from madoguchi.documents.models import SealVersion
from madoguchi.documents.services import render_sample_certificate
from madoguchi.operations.models import AuditEvent
from madoguchi.tenancy.models import Municipality, Role, Staff, StaffInvitation, municipality_code_check_digit

from .conftest import make_resident

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
TODAY = datetime.date.today


def make_staff(municipality, username, role=Role.MANAGER, **extra) -> Staff:
    staff = Staff(username=username, municipality=municipality, role=role, totp_secret=pyotp.random_base32(),
                  **extra)
    staff.set_password(PASSWORD)
    staff.save()
    return staff


def signed_in(staff) -> Client:
    client = Client()
    response = client.post(reverse("backoffice:login"), {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    response = client.post(reverse("backoffice:totp"), {"code": pyotp.TOTP(staff.totp_secret).now()})
    assert response.status_code == 302, response.content
    return client


def seal_png(width_px=260, height_px=260, *, colour=(200, 20, 20, 255)) -> bytes:
    """A red impression with a transparent one-pixel border (alpha 0 there)."""
    image = Image.new("RGBA", (width_px, height_px), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (width_px - 2, height_px - 2), colour), (1, 1))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def opaque_png() -> bytes:
    """RGB, no alpha channel: no pixel is transparent."""
    buffer = io.BytesIO()
    Image.new("RGB", (260, 260), (200, 20, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client, data: bytes, width="21", height="21", name="seal.png", on=None):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("backoffice:manage_seal_upload"), {
        "png": file, "width_mm": width, "height_mm": height, "effective_from": (on or TODAY()).isoformat()})


def audit_lines(caplog) -> list[dict]:
    """The manager screens' changes as the audit trail holds them (sign-ins left out)."""
    return [{"action": e.action, "actor": e.actor_name, "actor_id": e.actor_id, "municipality_id": e.municipality_id,
             "target_type": e.target_type, "target_id": e.target_id, "target_label": e.target_label,
             "before": json.loads(e.before or "null"), "after": json.loads(e.after or "null")}
            for e in AuditEvent.objects.filter(action__in=["setting_changed", "staff_changed"]).order_by("id")]


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager")


@pytest.fixture
def manager_client(manager):
    return signed_in(manager)


# --- 公印 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name, message", [
    (b"this is not an image at all", "seal.png", "PNG形式"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "seal.svg", "PNG形式"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024), "big.png", "2MBまで"),
    (b"\x89PNG\r\n\x1a\n" + b"garbage after the signature", "broken.png", "読み込めません"),
    (seal_png(120, 120), "small.png", "解像度が足りません"),
    (opaque_png(), "opaque.png", "透明"),
    (seal_png(500, 260), "wide.png", "縦横比"),
])
def test_bad_seal_images_are_refused(manager_client, municipality, data, name, message):
    response = upload(manager_client, data, name=name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SealVersion.objects.exists()


def test_seal_size_out_of_range_and_past_date_refused(manager_client):
    assert upload(manager_client, seal_png(), width="80", height="80").status_code == 400
    assert upload(manager_client, seal_png(), on=TODAY() - datetime.timedelta(days=1)).status_code == 400
    assert not SealVersion.objects.exists()


def _red_box(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of the pure seal-red area of a rendered page."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    xs, ys = [], []
    pixels = image.load()
    for y in range(image.height):
        for x in range(image.width):
            r, g, b = pixels[x, y]
            if r > 170 and g < 60 and b < 60:
                xs.append(x)
                ys.append(y)
    return (max(xs) - min(xs) + 1, max(ys) - min(ys) + 1) if xs else (0, 0)


def test_seal_needs_a_second_custodian_and_prints_at_its_registered_size(municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    uploader = make_staff(municipality, "manager", seal_custodian=True)
    custodian = make_staff(municipality, "soumu", role=Role.CLERK, seal_custodian=True)
    plain_clerk = make_staff(municipality, "clerk", role=Role.CLERK)
    client = signed_in(uploader)
    # 30 × 20 mm at 300 dpi: 355 × 237 pixels at least.
    response = upload(client, seal_png(360, 240), width="30", height="20")
    assert response.status_code == 302, response.content.decode()
    version = SealVersion.objects.get()
    assert seals.effective_seal(municipality, TODAY()) is None  # not approved: the placeholder prints

    own = client.post(reverse("backoffice:manage_seal_approve", args=[version.pk]))
    assert own.status_code == 302
    version.refresh_from_db()
    assert version.approved_at is None  # the uploader cannot approve their own seal
    assert signed_in(plain_clerk).post(reverse("backoffice:manage_seal_approve", args=[version.pk])).status_code == 403

    assert signed_in(custodian).post(reverse("backoffice:manage_seal_approve", args=[version.pk])).status_code == 302
    version.refresh_from_db()
    assert version.approved_by == custodian
    seal = seals.effective_seal(municipality, TODAY())
    assert (seal.width_mm, seal.height_mm) == (Decimal("30.0"), Decimal("20.0"))
    assert [line["after"].get("state") for line in audit_lines(caplog)] == ["pending", "approved"]

    # The sample certificate at 100 dpi: 30 mm = 118 px, 20 mm = 79 px (the image's own pixels do not matter).
    width, height = _red_box(render_sample_certificate(municipality, seal, TODAY(), as_png=True))
    assert abs(width - 118) <= 2 and abs(height - 79) <= 2
    preview = client.get(reverse("backoffice:manage_seal_preview", args=[0, "png"]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert _red_box(preview.content)[0] == width


def test_seal_not_yet_effective_does_not_print(municipality):
    uploader = make_staff(municipality, "manager")
    custodian = make_staff(municipality, "soumu", role=Role.CLERK, seal_custodian=True)
    upload(signed_in(uploader), seal_png(), on=TODAY() + datetime.timedelta(days=10))
    version = SealVersion.objects.get()
    signed_in(custodian).post(reverse("backoffice:manage_seal_approve", args=[version.pk]))
    assert seals.effective_seal(municipality, TODAY()) is None
    assert seals.effective_seal(municipality, TODAY() + datetime.timedelta(days=10)) is not None


# --- certifier, stale forms, text hygiene -----------------------------------------------------------

def _certifier_post(**overrides):
    data = {"certifier_title": "窓口市長", "certifier_name": "窓口 次郎", "document_header": "市民課",
            "seal_offset_x_mm": "0", "seal_offset_y_mm": "0", "version": "1"}
    data.update(overrides)
    return data


def test_stale_certifier_form_is_refused_with_the_difference(manager_client, municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    url = reverse("backoffice:manage_certifier")
    assert manager_client.post(url, _certifier_post(certifier_name="窓口 次郎")).status_code == 302
    stale = manager_client.post(url, _certifier_post(certifier_name="窓口 三郎"))  # read at version 1 too
    assert stale.status_code == 409
    page = stale.content.decode()
    assert "窓口 次郎" in page and "窓口 三郎" in page and "ほかの人が内容を変更しました" in page
    municipality.refresh_from_db()
    assert municipality.certifier_name == "窓口 次郎" and municipality.version == 2
    line = audit_lines(caplog)[0]
    assert line["before"] == {"certifier_title": "東京都窓口市長", "certifier_name": "窓口 太郎", "document_header": ""}
    assert line["after"]["certifier_name"] == "窓口 次郎" and line["actor"] == "manager"


@pytest.mark.parametrize("url_name, field, base", [
    ("backoffice:manage_certifier", "certifier_name", _certifier_post()),
    ("backoffice:manage_calendar", "office_hours", {"closed_dates": "", "office_hours": "x", "processing_days": "2",
                                                    "version": "1"}),
    ("backoffice:manage_staff_invite", "full_name", {"username": "newclerk", "full_name": "x", "role": "clerk"}),
    ("backoffice:manage_campaign_new", "campaign_name", {"campaign_name": "x",
                                                         "certificate_type": "residence_certificate",
                                                         "channel": "online", "valid_from": "2999-01-01",
                                                         "valid_until": "2999-01-31", "amount": "10"}),
])
@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80", "%EF%BF%BD"])  # NUL, a lone surrogate's bytes, U+FFFD
def test_nul_and_broken_text_refused_everywhere(manager_client, municipality, url_name, field, base, bad):
    from urllib.parse import urlencode

    fields = {k: v for k, v in base.items() if k != field}
    body = urlencode(fields) + f"&{field}=a{bad}b"
    response = manager_client.post(reverse(url_name), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    # Refused by the form's own check, or earlier by the boundary middleware (core.inputs).
    assert "使えない文字" in response.content.decode() or "正しくない文字" in response.content.decode()
    municipality.refresh_from_db()
    assert municipality.version == 1
    assert not Staff.objects.filter(username="newclerk").exists()
    assert not Fee.objects.exclude(campaign_name="").exists()


def test_calendar_rejects_bad_dates_and_saves_good_ones(manager_client, municipality):
    url = reverse("backoffice:manage_calendar")
    bad = manager_client.post(url, {"closed_dates": "2025-13-01", "office_hours": "8:30〜17:15",
                                    "processing_days": "2", "version": "1"})
    assert bad.status_code == 400 and "日付として読めません" in bad.content.decode()
    good = manager_client.post(url, {"closed_dates": "2030-12-28\n2030-05-01\n2030-12-28",
                                     "office_hours": "平日 8:30〜17:15", "processing_days": "3", "version": "1"})
    assert good.status_code == 302
    municipality.refresh_from_db()
    assert municipality.closed_dates == ["2030-05-01", "2030-12-28"] and municipality.processing_days == 3


# --- fees, campaigns, exemptions ---------------------------------------------------------------------

def _fee_table_post(municipality, cells: dict):
    data = {"effective_from": TODAY().isoformat(), "version": str(catalog.catalog_settings(municipality).version)}
    data.update({f"fee_{t}__{c}": v for (t, c), v in cells.items()})
    return data


@pytest.mark.parametrize("amount", ["-1", "10000000", "abc", "1e3"])
def test_bad_fee_amounts_refused(manager_client, municipality, amount):
    response = manager_client.post(reverse("backoffice:manage_fee_table"),
                                   _fee_table_post(municipality, {("residence_certificate", "online"): amount}))
    assert response.status_code == 400
    assert catalog.fee_for(municipality, "residence_certificate", "online", TODAY()) == 300


def test_fee_change_takes_effect_and_the_past_stays(manager_client, municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    Fee.objects.filter(municipality=municipality).update(valid_from=datetime.date(2020, 4, 1))
    tomorrow = TODAY() + datetime.timedelta(days=1)
    data = _fee_table_post(municipality, {("residence_certificate", "online"): "250"})
    data["effective_from"] = tomorrow.isoformat()
    assert manager_client.post(reverse("backoffice:manage_fee_table"), data).status_code == 302
    assert catalog.fee_for(municipality, "residence_certificate", "online", TODAY()) == 300
    assert catalog.fee_for(municipality, "residence_certificate", "online", tomorrow) == 250
    assert catalog.fee_for(municipality, "residence_certificate", "online", datetime.date(2021, 1, 1)) == 300
    assert audit_lines(caplog)[0]["after"]["amount"] == 250
    past = _fee_table_post(municipality, {("residence_certificate", "online"): "100"})
    past["effective_from"] = "2021-01-01"
    assert manager_client.post(reverse("backoffice:manage_fee_table"), past).status_code == 400
    assert catalog.fee_for(municipality, "residence_certificate", "online", datetime.date(2021, 1, 1)) == 300


def test_stale_fee_table_refused_with_difference(manager_client, municipality):
    first = _fee_table_post(municipality, {("seal_certificate", "online"): "250"})
    second = _fee_table_post(municipality, {("seal_certificate", "online"): "280"})
    assert manager_client.post(reverse("backoffice:manage_fee_table"), first).status_code == 302
    response = manager_client.post(reverse("backoffice:manage_fee_table"), second)
    assert response.status_code == 409
    assert "250" in response.content.decode() and "280" in response.content.decode()
    assert catalog.fee_for(municipality, "seal_certificate", "online", TODAY()) == 250


def _campaign(version, **overrides):
    start = TODAY() + datetime.timedelta(days=1)
    data = {"campaign_name": "10円キャンペーン", "certificate_type": "residence_certificate", "channel": "online",
            "valid_from": start.isoformat(), "valid_until": (start + datetime.timedelta(days=30)).isoformat(),
            "amount": "10", "version": str(version)}
    data.update(overrides)
    return data


def test_campaign_rules(manager_client, municipality):
    url = reverse("backoffice:manage_campaign_new")
    version = lambda: catalog.catalog_settings(municipality).version  # noqa: E731
    start = TODAY() + datetime.timedelta(days=1)
    backwards = manager_client.post(url, _campaign(version(), valid_until=TODAY().isoformat()))
    assert backwards.status_code == 400 and "終了日が開始日より前" in backwards.content.decode()
    assert manager_client.post(url, _campaign(version())).status_code == 302
    overlap = manager_client.post(url, _campaign(version(), campaign_name="別のキャンペーン",
                                                 valid_from=(start + datetime.timedelta(days=10)).isoformat(),
                                                 valid_until=(start + datetime.timedelta(days=60)).isoformat()))
    assert overlap.status_code == 400 and "期間が重なっています" in overlap.content.decode()
    other_channel = manager_client.post(url, _campaign(version(), channel="convenience_store"))
    assert other_channel.status_code == 302  # another fee channel does not overlap
    assert manager_client.post(url, _campaign(version(), amount="-1")).status_code == 400
    assert manager_client.post(url, _campaign(version(), amount="10000000")).status_code == 400
    assert Fee.objects.exclude(campaign_name="").count() == 2
    q = catalog.quote(municipality, "residence_certificate", 1, "regular", start + datetime.timedelta(days=3),
                      purpose="bank")
    assert q.fee_per_copy == 10 and q.campaign_name == "10円キャンペーン"
    fees_page = manager_client.get(reverse("backoffice:manage_fees") + f"?on={(start + datetime.timedelta(days=3))}")
    assert "10円キャンペーン" in fees_page.content.decode()


def test_past_campaign_is_read_only(manager_client, municipality):
    ended = Fee.objects.create(municipality=municipality, certificate_type="residence_certificate", channel="online",
                               amount=10, valid_from=datetime.date(2020, 1, 1), valid_until=datetime.date(2020, 1, 31),
                               campaign_name="過去のキャンペーン")
    running = Fee.objects.create(municipality=municipality, certificate_type="seal_certificate", channel="online",
                                 amount=10, valid_from=TODAY() - datetime.timedelta(days=3),
                                 valid_until=TODAY() + datetime.timedelta(days=3), campaign_name="実施中")
    version = catalog.catalog_settings(municipality).version
    response = manager_client.post(reverse("backoffice:manage_campaign_edit", args=[ended.pk]), _campaign(
        version, valid_from="2020-01-01", valid_until="2020-02-28", campaign_name="過去のキャンペーン"))
    assert response.status_code == 400 and "終了したキャンペーンは変更できません" in response.content.decode()
    changed_amount = manager_client.post(reverse("backoffice:manage_campaign_edit", args=[running.pk]), _campaign(
        version, certificate_type="seal_certificate", valid_from=running.valid_from.isoformat(),
        valid_until=running.valid_until.isoformat(), amount="0", campaign_name="実施中"))
    assert changed_amount.status_code == 400
    shortened = manager_client.post(reverse("backoffice:manage_campaign_edit", args=[running.pk]), _campaign(
        version, certificate_type="seal_certificate", valid_from=running.valid_from.isoformat(),
        valid_until=TODAY().isoformat(), amount="10", campaign_name="実施中"))
    assert shortened.status_code == 302
    running.refresh_from_db()
    ended.refresh_from_db()
    assert running.valid_until == TODAY() and ended.valid_until == datetime.date(2020, 1, 31)
    delete = manager_client.post(reverse("backoffice:manage_campaign_delete", args=[running.pk]),
                                 {"version": str(catalog.catalog_settings(municipality).version)})
    assert delete.status_code == 302 and Fee.objects.filter(pk=running.pk).exists()


def test_exemption_previewed_for_residents(manager_client, municipality):
    response = manager_client.post(reverse("backoffice:manage_exemption_add"), {
        "purpose": "pension", "certificate_type": "", "reason": "窓口市手数料条例第5条第1号",
        "valid_from": TODAY().isoformat(), "version": str(catalog.catalog_settings(municipality).version)})
    assert response.status_code == 302
    q = catalog.quote(municipality, "residence_certificate", 2, "regular", TODAY(), purpose="pension")
    assert q.fee_total == 0 and q.total == 110
    page = manager_client.get(reverse("backoffice:manage_fees")).content.decode()
    assert "窓口市手数料条例第5条第1号" in page and "110円" in page


# --- catalog offering ----------------------------------------------------------------------------------

def test_offering_is_respected_by_the_resident_pages_and_quote(manager_client, municipality):
    response = manager_client.post(reverse("backoffice:manage_catalog"), {
        "certificate_types": ["seal_certificate"], "purposes": ["bank"], "request_channels": ["web"],
        "postage": ["regular"], "version": "1"})
    assert response.status_code == 302, response.content.decode()
    page = Client().get(reverse("web:apply_type", args=[municipality.code])).content.decode()
    # The choices offered (the help text below the choices still explains every kind).
    assert 'value="seal_certificate"' in page and 'value="residence_certificate"' not in page
    with pytest.raises(catalog.CatalogError):
        catalog.quote(municipality, "residence_certificate", 1, "regular", TODAY(), purpose="bank")
    with pytest.raises(catalog.CatalogError):
        catalog.quote(municipality, "seal_certificate", 1, "regular", TODAY(), purpose="vehicle")
    assert not catalog.offers_request_channel(municipality, "line")
    forged = Client()
    forged.post(reverse("web:apply_type", args=[municipality.code]), {"certificate_type": "residence_certificate"})
    assert "certificate_type" not in forged.session.get(f"apply:{municipality.code}", {})
    empty = manager_client.post(reverse("backoffice:manage_catalog"), {
        "certificate_types": [], "purposes": ["bank"], "postage": ["regular"],
        "version": str(CatalogSettings.objects.get().version)})
    assert empty.status_code == 400


# --- permissions and tenancy ---------------------------------------------------------------------------

MANAGER_POSTS = ["backoffice:manage_certifier", "backoffice:manage_fee_table", "backoffice:manage_campaign_new",
                 "backoffice:manage_exemption_add", "backoffice:manage_calendar", "backoffice:manage_catalog",
                 "backoffice:manage_staff_invite", "backoffice:manage_seal_upload", "backoffice:manage_launch"]


@pytest.mark.parametrize("url_name", MANAGER_POSTS)
def test_clerk_posting_to_a_manager_form_is_forbidden(municipality, url_name):
    clerk = signed_in(make_staff(municipality, "clerk", role=Role.CLERK))
    assert clerk.post(reverse(url_name), {"certifier_name": "乗っ取り"}).status_code == 403
    municipality.refresh_from_db()
    assert municipality.certifier_name == "窓口 太郎"


def test_manager_of_another_municipality_gets_404(manager_client, municipality, other_municipality):
    their_clerk = make_staff(other_municipality, "their-clerk", role=Role.CLERK)
    their_seal = SealVersion.objects.create(municipality=other_municipality, png=seal_png(), width_mm=21,
                                            height_mm=21, effective_from=TODAY(), uploaded_by=their_clerk)
    their_campaign = Fee.objects.create(municipality=other_municipality, certificate_type="residence_certificate",
                                        channel="online", amount=10, valid_from=TODAY() + datetime.timedelta(days=5),
                                        valid_until=TODAY() + datetime.timedelta(days=9), campaign_name="よそ")
    assert manager_client.post(reverse("backoffice:manage_staff_action",
                                       args=[their_clerk.pk, "deactivate"])).status_code == 404
    assert manager_client.get(reverse("backoffice:manage_seal_preview", args=[their_seal.pk, "png"])).status_code == 404
    assert manager_client.post(reverse("backoffice:manage_seal_withdraw", args=[their_seal.pk])).status_code == 404
    assert manager_client.post(reverse("backoffice:manage_campaign_delete", args=[their_campaign.pk]),
                               {"version": "1"}).status_code == 404
    their_clerk.refresh_from_db()
    assert their_clerk.is_active and Fee.objects.filter(pk=their_campaign.pk).exists()


# --- staff ----------------------------------------------------------------------------------------------

def test_last_manager_cannot_deactivate_themselves(manager, manager_client, municipality):
    response = manager_client.post(reverse("backoffice:manage_staff_action", args=[manager.pk, "deactivate"]))
    assert response.status_code == 409 and "管理者が1人もいなくなる" in response.content.decode()
    demote = manager_client.post(reverse("backoffice:manage_staff_action", args=[manager.pk, "role"]),
                                 {"role": "clerk"})
    assert demote.status_code == 409
    manager.refresh_from_db()
    assert manager.is_active and manager.role == Role.MANAGER


def test_deactivation_ends_sessions_at_once(manager_client, municipality, caplog):
    caplog.set_level(logging.INFO, logger="madoguchi.audit")
    clerk = make_staff(municipality, "clerk", role=Role.CLERK)
    clerk_client = signed_in(clerk)
    assert clerk_client.get(reverse("backoffice:queue")).status_code == 200
    response = manager_client.post(reverse("backoffice:manage_staff_action", args=[clerk.pk, "deactivate"]))
    assert response.status_code == 200
    assert clerk_client.get(reverse("backoffice:queue")).status_code == 302  # back to the sign-in page
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(clerk.pk)]
    assert audit_lines(caplog)[-1]["after"]["is_active"] is False


def _invite(manager_client, username="newclerk", role="clerk", **extra):
    response = manager_client.post(reverse("backoffice:manage_staff_invite"), {
        "username": username, "full_name": "新人 太郎", "email": "", "role": role, **extra})
    assert response.status_code == 200, response.content.decode()
    return re.search(r'value="(http[^"]+/office/invitation/[^"]+/)"', response.content.decode()).group(1)


def _enroll(link: str, password="a-long-enough-passphrase"):
    client = Client()
    page = client.get(link)
    assert page.status_code == 200
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    response = client.post(link, {"password": password, "password_again": password,
                                  "code": pyotp.TOTP(secret).now()})
    return client, secret, response


def test_invitation_enrolls_totp_once(manager_client, municipality):
    link = _invite(manager_client, seal_custodian="on")
    client, secret, response = _enroll(link)
    assert response.status_code == 302
    staff = Staff.objects.get(username="newclerk")
    assert staff.totp_secret == secret and staff.seal_custodian and staff.check_password("a-long-enough-passphrase")
    assert client.get(reverse("backoffice:queue")).status_code == 200
    assert Client().get(link).status_code == 404  # one time only
    # The code shown at enrollment is not accepted again; the next one signs in.
    login = Client()
    login.post(reverse("backoffice:login"), {"username": "newclerk", "password": "a-long-enough-passphrase"})
    totp = pyotp.TOTP(secret)
    assert login.post(reverse("backoffice:totp"), {"code": totp.now()}).status_code == 200
    later = totp.at(timezone.now() + datetime.timedelta(seconds=30))
    assert login.post(reverse("backoffice:totp"), {"code": later}).status_code == 302


def test_invitation_refuses_wrong_code_weak_password_expired_and_forged(manager_client, municipality):
    link = _invite(manager_client)
    client = Client()
    client.get(link)
    wrong = client.post(link, {"password": "a-long-enough-passphrase", "password_again": "a-long-enough-passphrase",
                               "code": "000000"})
    assert wrong.status_code == 400
    weak = client.post(link, {"password": "password1234", "password_again": "password1234", "code": "000000"})
    assert weak.status_code == 400
    assert not Staff.objects.get(username="newclerk").totp_secret
    StaffInvitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert Client().get(link).status_code == 404
    for forged in ["x" * 43, "a" * 500]:
        assert Client().get(f"/office/invitation/{forged}/").status_code == 404
    for forged in ["%00", "%ED%A0%80"]:  # refused at the boundary (core.inputs) or not found
        assert Client().get(f"/office/invitation/{forged}/").status_code in (400, 404)


def test_reset_gives_a_new_link_and_ends_sessions(manager_client, municipality):
    clerk = make_staff(municipality, "clerk", role=Role.CLERK)
    clerk_client = signed_in(clerk)
    response = manager_client.post(reverse("backoffice:manage_staff_action", args=[clerk.pk, "reset"]))
    link = re.search(r'value="(http[^"]+/office/invitation/[^"]+/)"', response.content.decode()).group(1)
    clerk.refresh_from_db()
    assert not clerk.totp_secret and not clerk.has_usable_password()
    assert clerk_client.get(reverse("backoffice:queue")).status_code == 302
    assert _enroll(link)[2].status_code == 302


# --- onboarding, checklist, operator ----------------------------------------------------------------------

def _code(first_five: str) -> str:
    return first_five + str(municipality_code_check_digit(first_five))


def test_onboard_refuses_bad_codes_and_duplicates(municipality):
    bad = "08219" + str((municipality_code_check_digit("08219") + 1) % 10)
    for code in [bad, "12345", "abcdef", "0821900"]:
        with pytest.raises(CommandError):
            call_command("onboard_municipality", code, "牛久市", prefecture="茨城県", manager="ushiku")
    with pytest.raises(CommandError):
        call_command("onboard_municipality", municipality.code, "窓口市", prefecture="東京都", manager="m2")
    with pytest.raises(CommandError):
        call_command("onboard_municipality", _code("08219"), "牛\x00久市", prefecture="茨城県", manager="ushiku")
    assert not Municipality.objects.filter(name__startswith="牛").exists()
    assert not Staff.objects.filter(username="ushiku").exists()


def test_onboarded_municipality_stays_closed_until_the_checklist_is_done(settings):
    out = io.StringIO()
    code = _code("08219")
    call_command("onboard_municipality", code, "牛久市", prefecture="茨城県", manager="ushiku",
                 manager_name="牛久 花子", certifier_name="牛久 一郎", stdout=out)
    municipality = Municipality.objects.get(code=code)
    assert not municipality.launched and Fee.objects.filter(municipality=municipality).count() > 20
    manager = Staff.objects.get(username="ushiku")
    assert manager.role == Role.MANAGER and not manager.has_usable_password() and not manager.totp_secret
    closed = Client().get(reverse("web:home", args=[code]))
    assert closed.status_code == 503 and "準備中" in closed.content.decode()
    link = re.search(r"(http\S+/office/invitation/\S+/)", out.getvalue()).group(1)
    client, _secret, response = _enroll(link.replace(settings.SITE_URL, ""))
    assert response.status_code == 302
    assert client.post(reverse("backoffice:manage_launch")).status_code == 302
    municipality.refresh_from_db()
    assert not municipality.launched  # refused: the checklist is not complete
    page = client.get(reverse("backoffice:manage_checklist")).content.decode()
    # Missing: the seal, the fee review, the LINE credentials, the replica (the certifier was given).
    assert [m for m in re.findall(r'data-item="(\w+)" class="todo"', page)] == ["seal", "fees", "providers", "replica"]


def test_operator_console_suspends_without_showing_residents(municipality, other_municipality):
    make_resident(municipality, "秘密 花子")
    operator = Staff(username="operator", is_superuser=True, totp_secret=pyotp.random_base32())
    operator.set_password(PASSWORD)
    operator.save()
    client = signed_in(operator)
    console = client.get(reverse("backoffice:operator"))
    assert console.status_code == 200
    assert municipality.code in console.content.decode() and "秘密" not in console.content.decode()
    assert client.get(reverse("backoffice:queue")).status_code == 403
    manager = make_staff(municipality, "manager")
    manager_client = signed_in(manager)
    assert manager_client.get(reverse("backoffice:operator")).status_code == 403
    no_reason = client.post(reverse("backoffice:operator_suspend", args=[municipality.code]), {"reason": ""})
    assert no_reason.status_code == 302
    municipality.refresh_from_db()
    assert municipality.suspended_at is None  # a reason is required
    client.post(reverse("backoffice:operator_suspend", args=[municipality.code]), {"reason": "契約の確認"})
    assert Client().get(reverse("web:home", args=[municipality.code])).status_code == 503
    assert Client().get(reverse("web:home", args=[other_municipality.code])).status_code == 200
    refused = manager_client.post(reverse("backoffice:manage_certifier"), _certifier_post())
    assert refused.status_code == 403 and "利用停止中" in refused.content.decode()
    assert manager_client.get(reverse("backoffice:manage_fees")).status_code == 200  # read-only, not closed
    client.post(reverse("backoffice:operator_resume", args=[municipality.code]))
    assert Client().get(reverse("web:home", args=[municipality.code])).status_code == 200
    municipality.refresh_from_db()
    saved = manager_client.post(reverse("backoffice:manage_certifier"), _certifier_post(version=municipality.version))
    assert saved.status_code == 302


def test_suspended_municipality_refuses_new_drafts(municipality):
    from madoguchi.applications import actions

    Municipality.objects.filter(pk=municipality.pk).update(suspended_at=timezone.now())
    municipality.refresh_from_db()
    with pytest.raises(actions.ActionError):
        actions.create_draft(municipality, certificate_type=CertificateType.RESIDENCE, options={"scope": "self"},
                             copies=1, purpose="bank", purpose_detail="", postage_class="regular")


def test_providers_page_shows_only_whether_set(manager_client, municipality):
    from madoguchi.tenancy import vault

    vault.set_secret(municipality, "LINE_CHANNEL_SECRET", "very-secret-value")
    page = manager_client.get(reverse("backoffice:manage_providers")).content.decode()
    assert "LINE_CHANNEL_SECRET" in page and "登録済み" in page and "未登録" in page
    assert "very-secret-value" not in page

