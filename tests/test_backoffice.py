import io

import pyotp
import pytest
from django.test import Client
from django.urls import resolve, reverse
from pypdf import PdfReader

from madoguchi.applications.models import State
from madoguchi.backoffice.invitation import home_for
from madoguchi.operations.models import AccessLog
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import received

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct-horse-battery"


def make_staff(municipality, username, role=Role.CLERK):
    staff = Staff(username=username, municipality=municipality, role=role, totp_secret=pyotp.random_base32())
    staff.set_password(PASSWORD)
    staff.save()
    return staff


def signed_in(staff, client=None) -> Client:
    client = client or Client()
    response = client.post(reverse("backoffice:login"), {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("backoffice:totp")
    response = client.post(reverse("backoffice:totp"), {"code": pyotp.TOTP(staff.totp_secret).now()})
    assert response.status_code == 302 and response.url == reverse(home_for(staff)), response.content
    return client


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


def test_password_alone_does_not_open_the_queue(clerk):
    client = Client()
    client.post(reverse("backoffice:login"), {"username": "clerk", "password": PASSWORD})
    response = client.get(reverse("backoffice:queue"))
    assert response.status_code == 302 and response.url == reverse("backoffice:login")


def test_wrong_password_and_wrong_code_are_refused(clerk):
    client = Client()
    response = client.post(reverse("backoffice:login"), {"username": "clerk", "password": "nope-nope-nope"})
    assert "ユーザー名またはパスワードが違います" in response.content.decode()
    client.post(reverse("backoffice:login"), {"username": "clerk", "password": PASSWORD})
    response = client.post(reverse("backoffice:totp"), {"code": "000000"})
    assert "確認コードが違う" in response.content.decode()
    assert client.get(reverse("backoffice:queue")).status_code == 302


def test_a_totp_code_is_accepted_only_once(clerk):
    code = pyotp.TOTP(clerk.totp_secret).now()
    first, second = Client(), Client()
    for client in (first, second):
        client.post(reverse("backoffice:login"), {"username": "clerk", "password": PASSWORD})
    assert first.post(reverse("backoffice:totp"), {"code": code}).status_code == 302
    assert second.post(reverse("backoffice:totp"), {"code": code}).status_code == 200


def test_login_is_throttled_after_repeated_failures(clerk):
    client = Client()
    for _ in range(10):
        client.post(reverse("backoffice:login"), {"username": "clerk", "password": "wrong-password!"})
    response = client.post(reverse("backoffice:login"), {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 200  # even the right password is refused for now


def test_csrf_token_is_required_for_decisions(municipality, resident, clerk):
    request = received(municipality, resident)
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in(clerk).cookies
    assert client.get(reverse("backoffice:queue")).status_code == 200
    response = client.post(reverse("backoffice:approve", args=[request.public_id]))
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_queue_detail_and_access_log(municipality, resident, clerk):
    request = received(municipality, resident)
    client = signed_in(clerk)
    queue = client.get(reverse("backoffice:queue")).content.decode()
    assert request.formatted_reception_number in queue and resident.name in queue
    detail = client.get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    assert "Madoguchi Sandbox JPKI Signing CA" in detail and "一致" in detail
    assert list(AccessLog.objects.values_list("action", flat=True)) == ["view_request", "view_queue"]
    log = AccessLog.objects.get(action="view_request")
    assert (log.staff, log.request, log.resident) == (clerk, request, resident)


def test_other_municipality_clerk_sees_nothing_and_changes_nothing(municipality, other_municipality, resident):
    request = received(municipality, resident)
    outsider = signed_in(make_staff(other_municipality, "outsider"))
    assert request.formatted_reception_number not in outsider.get(reverse("backoffice:queue")).content.decode()
    for name in ("detail", "document_pdf"):
        assert outsider.get(reverse(f"backoffice:{name}", args=[request.public_id])).status_code == 404
    for name in ("approve", "reject", "mailed", "review"):
        response = outsider.post(reverse(f"backoffice:{name}", args=[request.public_id]), {"reason": "x"})
        assert response.status_code == 404
    outsider.post(reverse("backoffice:batch"), {"operation": "approve", "selected": [str(request.public_id)]})
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    assert not AccessLog.objects.filter(request=request).exists()


def test_auditor_reads_logs_but_cannot_decide(municipality, resident, clerk):
    request = received(municipality, resident)
    auditor = signed_in(make_staff(municipality, "auditor", Role.AUDITOR))
    assert auditor.post(reverse("backoffice:approve", args=[request.public_id])).status_code == 403
    assert auditor.get(reverse("operations_office:logs")).status_code == 200
    assert signed_in(clerk).get(reverse("operations_office:logs")).status_code == 403


def test_batch_approve_skips_flagged_and_print_batch_contains_the_names(municipality, resident, clerk):
    # Flagged by a DV support measure (under 15 is refused at signing since issue 3).
    protected = make_resident(municipality, "佐藤 恵子", support_measure=True)
    clean, flagged = received(municipality, resident), received(municipality, protected)
    client = signed_in(clerk)
    response = client.post(reverse("backoffice:batch"), {
        "operation": "approve", "selected": [str(clean.public_id), str(flagged.public_id), "not-a-uuid"]},
        follow=True)
    assert "1件を承認しました" in response.content.decode()
    clean.refresh_from_db(), flagged.refresh_from_db()
    assert (clean.state, flagged.state) == (State.APPROVED, State.RECEIVED)
    response = client.post(reverse("backoffice:batch"), {"operation": "print", "selected": [str(clean.public_id)]})
    assert response.status_code == 302
    pdf = client.get(reverse("documents_office:batch_pdf", args=[resolve(response.url).kwargs["batch_id"]]))
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "山田" in text and "花子" in text
    clean.refresh_from_db()
    assert clean.state == State.ISSUED
    client.post(reverse("backoffice:mailed", args=[clean.public_id]), {"tracking_number": "1234-5678-9012"})
    clean.refresh_from_db()
    assert (clean.state, clean.tracking_number) == (State.MAILED, "1234-5678-9012")


def test_reject_needs_a_reason(municipality, resident, clerk):
    request = received(municipality, resident)
    client = signed_in(clerk)
    response = client.post(reverse("backoffice:reject", args=[request.public_id]), {"reason": ""}, follow=True)
    assert "却下の理由を入力してください" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_clerks_cannot_reach_settings_or_the_admin(municipality, other_municipality, clerk):
    client = signed_in(clerk)
    response = client.get("/admin/tenancy/municipality/")
    assert response.status_code == 404  # not mounted unless the operator enables it (tests/test_operator_admin.py)
    response = client.post(f"/admin/tenancy/municipality/{other_municipality.pk}/change/", {"name": "乗っ取り市"})
    assert response.status_code == 404
    other_municipality.refresh_from_db()
    assert other_municipality.name == "龍ケ崎市"
