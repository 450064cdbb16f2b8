"""The clerk's screens without a browser: search, a tab for every state, due date/channel/assignee
columns, 「承認して次へ」, approve-and-print, select-all without JavaScript, the side-by-side review screen,
reject with a confirmation step and 定型文, 書留 numbers with a shared prefix, the receipt re-issue,
landing pages for auditors and managers, and the lockout message."""

import datetime

import pytest
from django.test import Client
from django.urls import resolve, reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, State
from madoguchi.backoffice.views import registered_mail_typo
from madoguchi.core.search import search_key
from madoguchi.operations.models import AccessLog
from madoguchi.tenancy.models import Role

from .boundary import answered
from .conftest import make_resident
from .flow import received
from .test_backoffice import PASSWORD, make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


def test_search_key_folds_kana_width_variants_and_spaces():
    assert search_key("ﾔﾏﾀﾞ ﾊﾅｺ") == search_key("やまだ　はなこ") == search_key("ヤマダハナコ")
    assert search_key("髙橋 一郎") == search_key("高橋一郎")
    assert search_key("辻\U000E0102") == search_key("辻")


def test_search_by_reception_number_name_kana_variant_and_date(municipality, clerk):
    hanako = received(municipality, make_resident(municipality, "山田 花子"))
    takahashi_resident = make_resident(municipality, "髙橋 一郎")
    takahashi_resident.name_kana = "たかはし いちろう"
    takahashi_resident.save()
    takahashi = received(municipality, takahashi_resident)
    client = signed_in(clerk)
    queue = reverse("backoffice:queue")

    def found(**params):
        page = client.get(queue, params).content.decode()
        return {r.formatted_reception_number for r in (hanako, takahashi) if r.formatted_reception_number in page}

    assert found(q=hanako.reception_number[-6:]) == {hanako.formatted_reception_number}
    assert found(q=hanako.formatted_reception_number) == {hanako.formatted_reception_number}
    assert found(q="高橋") == {takahashi.formatted_reception_number}
    assert found(q="ﾀｶﾊｼ") == {takahashi.formatted_reception_number}
    assert found(q="タカハシ イチロウ") == {takahashi.formatted_reception_number}
    assert found(q="花子") == {hanako.formatted_reception_number}
    today = datetime.date.today().isoformat()
    assert len(found(**{"from": today, "to": today})) == 2
    assert found(**{"from": "2000-01-01", "to": "2000-01-02"}) == set()
    # Garbage is answered, never a 500.
    for bad in ("%00", "%ED%A0%80", "%FF", "x" * 5000, "'%20OR%201=1%20--", "2024-13-45"):
        assert answered(client.get(f"{queue}?q={bad}&from={bad}&to={bad}&state={bad}"))


def test_every_state_has_a_tab_and_finished_requests_stay_findable(municipality, resident, clerk):
    mailed = received(municipality, resident)
    actions.approve(mailed, clerk)
    actions.record_printed([mailed], clerk)
    actions.mark_mailed(mailed, clerk, "12345678901")
    rejected = received(municipality, resident)
    actions.reject(rejected, clerk, "テスト")
    waiting = received(municipality, resident)
    client = signed_in(clerk)
    queue = reverse("backoffice:queue")
    page = client.get(queue).content.decode()
    assert waiting.formatted_reception_number in page and mailed.formatted_reception_number not in page
    for label in ("要対応", "発送済み", "完了", "却下", "取消", "すべて"):
        assert f"{label} <strong>" in page
    assert mailed.formatted_reception_number in client.get(queue, {"state": "mailed"}).content.decode()
    rejected.refresh_from_db()
    page = client.get(queue, {"state": rejected.state}).content.decode()
    assert rejected.formatted_reception_number in page
    page = client.get(queue, {"state": "all"}).content.decode()
    assert all(r.formatted_reception_number in page for r in (mailed, rejected, waiting))


def test_queue_shows_due_date_channel_and_assignee(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.start_review(request, clerk)
    CertificateRequest.objects.filter(pk=request.pk).update(expected_ship_date=datetime.date(2020, 1, 6))
    page = signed_in(clerk).get(reverse("backoffice:queue")).content.decode()
    for text in ("発送予定日", "経路", "担当", "1/6 期限超過", ">Web<", ">clerk<"):
        assert text in page, text


def test_approve_and_next_walks_the_queue_then_lands_on_approved(municipality, resident, clerk):
    first, second = received(municipality, resident), received(municipality, resident)
    client = signed_in(clerk)
    page = client.get(reverse("backoffice:detail", args=[first.public_id])).content.decode()
    assert "承認して次へ" in page and second.formatted_reception_number in page
    response = client.post(reverse("backoffice:approve", args=[first.public_id]), {"next": "1"})
    assert response.url == reverse("backoffice:detail", args=[second.public_id])
    response = client.post(reverse("backoffice:approve", args=[second.public_id]), {"next": "1"})
    assert response.url == reverse("backoffice:queue") + "?state=approved"
    page = client.get(response.url).content.decode()
    assert "承認済みの2件をまとめて印刷" in page
    response = client.post(reverse("backoffice:print_approved"))
    batch = resolve(response.url).kwargs["batch_id"]
    assert set(CertificateRequest.objects.values_list("state", flat=True)) == {State.ISSUED}
    page = client.get(reverse("backoffice:batch_detail", args=[batch])).content.decode()
    assert 'id="tracking-prefix"' in page and 'inputmode="numeric"' in page


def test_approve_and_print_in_one_step_skips_flagged(municipality, resident, clerk):
    clean = received(municipality, resident)
    flagged = received(municipality, make_resident(municipality, "佐藤 恵子", support_measure=True))
    client = signed_in(clerk)
    response = client.post(reverse("backoffice:batch"), {
        "operation": "approve_print", "selected": [str(clean.public_id), str(flagged.public_id), "junk"]})
    assert resolve(response.url).url_name == "batch_detail"
    clean.refresh_from_db(), flagged.refresh_from_db()
    assert (clean.state, flagged.state) == (State.ISSUED, State.RECEIVED)


def test_select_all_works_without_javascript(municipality, resident, clerk):
    requests = [received(municipality, resident) for _ in range(2)]
    client = signed_in(clerk)
    page = client.get(reverse("backoffice:queue"), {"select": "all"}).content.decode()
    assert page.count('name="selected"') == 2 and page.count(" checked>") == 2
    assert "キーボード操作" in page and "<kbd>j</kbd>" in page
    assert "office.js" in page and "<script>" not in page
    assert len(requests) == 2


def test_review_screen_side_by_side_in_wareki_with_internals_folded(municipality, clerk):
    protected = make_resident(municipality, "佐藤 恵子", support_measure=True)
    request = received(municipality, protected)
    page = signed_in(clerk).get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    assert page.count("昭和55年4月1日") == 2  # card and replica, both as the certificate prints
    assert "1980/4/1" not in page and "1980-04-01" not in page
    internals = page.split("<details class=\"internals\">")[1].split("</details>")[0]
    assert "CN=" in internals or "Sandbox" in internals
    assert "path" not in page.split("<details class=\"internals\">")[0].split("本人確認")[1]
    assert "住民基本台帳法第12条第6項" in page  # the guidance for the 支援措置 flag
    assert "マイナンバーカード" in page and "住民記録(副本)" in page


def test_review_screen_shows_the_expected_ship_date_in_wareki(municipality, resident, clerk):
    request = received(municipality, resident)
    CertificateRequest.objects.filter(pk=request.pk).update(expected_ship_date=datetime.date(2026, 12, 8))
    page = signed_in(clerk).get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    ship = page.split("発送予定日</dt><dd>")[1].split("</dd>")[0]
    assert ship == "令和8年12月8日"
    assert "2026/12/8" not in page


def test_differences_are_highlighted_on_both_sides(municipality, clerk):
    request = received(municipality, make_resident(municipality, "山田 花子"))
    CertificateRequest.objects.filter(pk=request.pk).update(
        match_result="near", flags=["name_mismatch"],
        match_detail={"name": {"replica": [["山", False], ["﨑", True]], "card": [["山", False], ["崎", True]]}})
    page = signed_in(clerk).get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    assert "<mark>﨑</mark>" in page and "<mark>崎</mark>" in page and "違いあり" in page


def test_reject_has_a_confirmation_step_with_set_phrases(municipality, resident, clerk):
    request = received(municipality, resident)
    client = signed_in(clerk)
    url = reverse("backoffice:reject", args=[request.public_id])
    page = client.get(url).content.decode()
    assert "請求できる方の範囲に当たらない" in page and "その他" in page
    page = client.post(url, {"template": "koseki_not_found", "detail": "本籍の番地をご確認ください。"}).content.decode()
    assert "取り消せません" in page and "本籍地の記載された住民票の写し" in page and 'name="confirmed"' in page
    request.refresh_from_db()
    assert request.state == State.RECEIVED  # nothing happens before the confirmation
    client.post(url, {"template": "koseki_not_found", "detail": "本籍の番地をご確認ください。", "confirmed": "1"})
    request.refresh_from_db()
    assert request.state in {State.REJECTED, State.REFUNDED}
    assert "本籍地の記載された住民票の写し" in request.decision_reason and "番地" in request.decision_reason


@pytest.mark.parametrize("data, message", [
    ({"template": "other", "detail": ""}, "却下の理由を入力してください"),
    ({"template": "", "detail": "  "}, "却下の理由を入力してください"),
    ({"template": "made_up", "detail": ""}, "表示されている選択肢から"),
    ({"template": "other", "detail": "a\x00b", "confirmed": "1"}, "正しくない文字"),  # core.inputs
    ({"template": "other", "detail": "長" * 301, "confirmed": "1"}, "300文字以内"),
])
def test_bad_reject_input_is_refused_and_nothing_changes(municipality, resident, clerk, data, message):
    request = received(municipality, resident)
    page = signed_in(clerk).post(reverse("backoffice:reject", args=[request.public_id]), data).content.decode()
    assert message in page
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_reject_is_refused_once_issued_and_replayed_confirmation_does_nothing(municipality, resident, clerk):
    request = received(municipality, resident)
    client = signed_in(clerk)
    url = reverse("backoffice:reject", args=[request.public_id])
    data = {"template": "duplicate", "detail": "", "confirmed": "1"}
    client.post(url, data)
    request.refresh_from_db()
    state = request.state
    page = client.post(url, data, follow=True).content.decode()
    assert "却下できる状態ではありません" in page
    assert request.events.filter(kind="rejected").count() == 1 and state in {State.REJECTED, State.REFUNDED}


def test_registered_mail_numbers_with_a_shared_prefix(municipality, resident, clerk):
    first, second = received(municipality, resident), received(municipality, resident)
    client = signed_in(clerk)
    response = client.post(reverse("backoffice:batch"), {
        "operation": "approve_print", "selected": [str(first.public_id), str(second.public_id)]})
    batch = resolve(response.url).kwargs["batch_id"]
    good = "1234567890"
    good += str(int(good) % 7)  # the 11th digit checks the first ten
    bad = good[:-1] + str((int(good[-1]) + 1) % 7)
    assert not registered_mail_typo(good) and registered_mail_typo(bad)
    response = client.post(reverse("backoffice:batch_mailed", args=[batch]), {
        "tracking_prefix": good[:5], f"tracking_{first.public_id}": good[5:],
        f"tracking_{second.public_id}": bad}, follow=True)
    page = response.content.decode()
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.tracking_number, second.tracking_number) == (good, bad)
    assert "検査数字が合いません" in page and second.formatted_reception_number in page
    assert first.formatted_reception_number not in page.split("検査数字が合いません")[1].split("</p>")[0]


def test_receipt_is_reissued_for_the_clerk_and_logged(municipality, other_municipality, resident, clerk):
    request = received(municipality, resident)
    response = signed_in(clerk).get(reverse("backoffice:receipt_pdf", args=[request.public_id]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert AccessLog.objects.filter(action="reissue_receipt", request=request).exists()
    outsider = signed_in(make_staff(other_municipality, "outsider"))
    assert outsider.get(reverse("backoffice:receipt_pdf", args=[request.public_id])).status_code == 404


def test_auditor_lands_on_an_audit_page_not_a_403(municipality, resident):
    received(municipality, resident)
    auditor = signed_in(make_staff(municipality, "auditor", Role.AUDITOR))
    response = auditor.get(reverse("backoffice:queue"))
    assert response.url == reverse("backoffice:audit_home")
    page = auditor.get(response.url).content.decode()
    assert "アクセスログを見る" in page and "閲覧のみ" in page
    assert auditor.get(reverse("backoffice:manager_home")).status_code == 403


def test_manager_landing_page_lists_work_and_settings(municipality, resident):
    request = received(municipality, resident)
    CertificateRequest.objects.filter(pk=request.pk).update(expected_ship_date=datetime.date(2020, 1, 6))
    manager = signed_in(make_staff(municipality, "boss", Role.MANAGER))
    page = manager.get(reverse("backoffice:manager_home")).content.decode()
    assert "発送予定日を過ぎた申請が1件" in page and "決済の突合" in page and "boss" in page
    assert signed_in(make_staff(municipality, "clerk2")).get(reverse("backoffice:manager_home")).status_code == 403


def test_lockout_says_when_to_retry_not_wrong_password(clerk):
    client = Client()
    for _ in range(10):
        client.post(reverse("backoffice:login"), {"username": "clerk", "password": "wrong-password!"})
    page = client.post(reverse("backoffice:login"), {"username": "clerk", "password": PASSWORD}).content.decode()
    # The progressive delay of the sign-in defence says until when (backoffice.auth.retry_message).
    assert "しばらくお待ちいただいています" in page and "以降にもう一度お試しください" in page
    assert "パスワードが違います" not in page
    # Another user name is not affected.
    page = client.post(reverse("backoffice:login"), {"username": "other", "password": "x"}).content.decode()
    assert "パスワードが違います" in page
