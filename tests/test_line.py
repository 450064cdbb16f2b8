"""The LINE official account: webhook hostility, the conversation, LIFF, push notices, KPI, linking."""

import datetime
import json
import time
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, SatisfactionAnswer, State
from madoguchi.line.emulator.views import PLATFORM, issue_id_token
from madoguchi.line.models import (
    Conversation,
    EventOutcome,
    FriendDaily,
    LineUser,
    RequestBinding,
    WebhookEvent,
)
from madoguchi.notifications import tasks as notice_tasks
from madoguchi.notifications.models import Notice, NoticeStatus
from madoguchi.tenancy.models import Role, Staff

from .flow import pay, sign
from .line_helpers import buttons, deliver, event, last, make_channel, post, press, say, tap

pytestmark = pytest.mark.django_db(transaction=True)
ALICE, BOB = "U" + "a" * 32, "U" + "b" * 32


@pytest.fixture
def channel(live_server, settings, municipality):
    base = live_server.url + "/line-emulator"
    settings.LINE_API_BASE_URL = base
    settings.LINE_API_DATA_BASE_URL = base
    settings.LINE_LIFF_URL = base + "/liff"
    PLATFORM.reset()
    return make_channel(municipality)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)


def texts(code, user) -> list[str]:
    return [m.get("text") or m.get("template", {}).get("text", "") for m in PLATFORM.bot_messages(code, user)]


def apply_residence(code: str, user: str) -> CertificateRequest:
    """The shortest chat: rich menu → 住民票の写し → 本人のみ → no extras → 1通 → bank → 申請する."""
    tap(code, user, "a=start")
    for label in ["住民票の写し", "本人のみ", "はい", "いいえ", "いいえ", "1通", "金融機関の手続き"]:
        press(code, user, label)
    assert "合計 410円" in last(code, user)["text"]
    press(code, user, "申請する")
    return CertificateRequest.objects.get(line_binding__line_user__user_id=user)


# --- the webhook -----------------------------------------------------------------------------------

def test_forged_and_missing_signatures_are_refused(channel, municipality):
    body = json.dumps({"events": [event("message", ALICE, message={"type": "text", "text": "申請"})]}).encode()
    assert post(municipality.code, body, signature="AAAA" + "=" * 40).status_code == 401
    assert post(municipality.code, body, signature="").status_code == 401
    # Signed with another municipality's secret.
    from .line_helpers import sign as sign_body
    assert post(municipality.code, body, signature=sign_body(body, "082082")).status_code == 401
    assert not WebhookEvent.objects.exists() and not PLATFORM.bot_messages(municipality.code, ALICE)


def test_malformed_oversized_and_unknown_channel(channel, municipality, settings):
    for body in [b"{not json", b"[]", b'{"events": "x"}', b'{"events": [{"type": "message"}]}', b"\xff\xfe"]:
        assert post(municipality.code, body).status_code == 400, body
    settings.LINE_WEBHOOK_MAX_BODY = 1000
    big = json.dumps({"events": [event("message", ALICE, message={"type": "text", "text": "あ" * 2000})]}).encode()
    assert post(municipality.code, big).status_code == 413
    assert post("082082", b'{"events": []}').status_code == 404
    assert not WebhookEvent.objects.exists()


def test_verification_request_without_events_is_acknowledged(channel, municipality):
    assert post(municipality.code, b'{"destination": "U0", "events": []}').status_code == 200


def test_unknown_event_types_are_recorded_and_ignored(channel, municipality):
    odd = event("membership", ALICE, membership={"type": "joined"})
    group = event("message", ALICE, message={"type": "text", "text": "申請"})
    group["source"] = {"type": "group", "groupId": "C1"}
    assert deliver(municipality.code, odd, group).status_code == 200
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {EventOutcome.IGNORED}
    assert not PLATFORM.bot_messages(municipality.code, ALICE)


def test_redelivered_event_is_handled_once(channel, municipality):
    first = event("message", ALICE, message={"type": "text", "text": "証明書の申請"})
    deliver(municipality.code, first)
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    assert deliver(municipality.code, again).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == 2  # greeting + first question, once


# --- the conversation -----------------------------------------------------------------------------

def test_whole_conversation_creates_a_line_request_with_a_liff_link(channel, municipality):
    request = apply_residence(municipality.code, ALICE)
    assert request.channel == "line" and request.state == State.DRAFT
    assert request.options == {"scope": "self", "show_relationship": True, "show_honseki": False,
                               "show_residence_status": False}
    assert (request.copies, request.purpose, request.total_amount) == (1, "bank", 410)
    link = last(municipality.code, ALICE)["template"]["actions"][0]["uri"]
    assert link.endswith(f"/liff/{channel.liff_id}/r/{request.public_id}/")
    assert not Conversation.objects.exists()


NONSENSE = "ほげほげ"


def test_nonsense_at_every_step_is_asked_again(channel, municipality):
    code = municipality.code
    tap(code, ALICE, "a=start")
    steps = ["住民票の写し", "世帯の一部の人", None, "はい", "いいえ", "いいえ", "3通", "その他", None, "申請する"]
    for label in steps:
        question = last(code, ALICE)["text"]
        say(code, ALICE, NONSENSE if label else "")
        if label is None:  # a typed step: blank is refused with the form's message
            assert texts(code, ALICE)[-2] == "文字で入力してください。" and last(code, ALICE)["text"] == question
            say(code, ALICE, "山田 一郎" if "氏名" in question else "相続の手続き")
        else:
            assert "ボタンから選んでください" in texts(code, ALICE)[-2] and last(code, ALICE)["text"] == question
            press(code, ALICE, label)
    request = CertificateRequest.objects.get()
    assert request.options["members"] == "山田 一郎" and request.purpose_detail == "相続の手続き"
    assert request.copies == 3


def test_typed_answer_too_long_is_refused(channel, municipality):
    code = municipality.code
    tap(code, ALICE, "a=start")
    press(code, ALICE, "戸籍全部事項証明書")
    say(code, ALICE, "本" * 300)
    assert "200" in texts(code, ALICE)[-2]
    say(code, ALICE, "東京都窓口市本町一丁目2番地")
    say(code, ALICE, "山田 太郎")
    assert last(code, ALICE)["text"].startswith("何通")


def test_old_button_and_restart_and_quit(channel, municipality):
    code = municipality.code
    tap(code, ALICE, "a=start")
    type_buttons = buttons(last(code, ALICE))
    press(code, ALICE, "住民票の写し")
    tap(code, ALICE, type_buttons["印鑑登録証明書"])  # a button from the previous question
    assert "前の質問" in texts(code, ALICE)[-2]
    say(code, ALICE, "やり直す")
    assert last(code, ALICE)["text"] == "どの証明書が必要ですか?"
    assert Conversation.objects.get().answers == {}
    press(code, ALICE, "やめる")
    assert not Conversation.objects.exists() and "やめました" in last(code, ALICE)["text"]


def test_two_users_interleaved_keep_their_own_answers(channel, municipality):
    code = municipality.code
    tap(code, ALICE, "a=start")
    tap(code, BOB, "a=start")
    press(code, ALICE, "住民票の写し")
    press(code, BOB, "課税(非課税)・所得証明書")
    press(code, ALICE, "世帯全員")
    press(code, BOB, "本人")
    bob_years = [label for label in buttons(last(code, BOB)) if label.startswith("令和")]
    press(code, BOB, bob_years[1])
    alice = Conversation.objects.get(line_user__user_id=ALICE).answers
    bob = Conversation.objects.get(line_user__user_id=BOB).answers
    assert alice == {"certificate_type": "residence_certificate", "scope": "household"}
    assert set(bob) == {"certificate_type", "scope", "fiscal_year"} and bob["certificate_type"] == "tax_certificate"


def test_continuing_on_another_device_and_resuming_politely(channel, municipality):
    code = municipality.code
    tap(code, ALICE, "a=start")
    press(code, ALICE, "住民票の写し")
    # The same LINE user on a tablet: another connection, the same conversation from the database.
    deliver(code, event("message", ALICE, message={"type": "text", "text": "本人のみ"}))
    assert Conversation.objects.get().step == "show_relationship"
    Conversation.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=5))
    say(code, ALICE, "こんにちは")
    assert "おかえりなさい" in texts(code, ALICE)[-2]
    assert last(code, ALICE)["text"] == "世帯主の氏名と続柄を記載しますか?"
    tap(code, ALICE, "a=start")  # the rich menu again: continue, not lose the answers
    assert "続きから" in texts(code, ALICE)[-2] and Conversation.objects.get().answers["scope"] == "self"


# --- LIFF ----------------------------------------------------------------------------------------

def _liff(client: Client, code: str, request: CertificateRequest) -> str:
    url = reverse("line:liff_request", args=[code, request.public_id])
    page = client.get(url)
    assert page.status_code == 200
    return page.content.decode().split('data-nonce="')[1].split('"')[0]


def test_liff_id_token_binds_the_request_to_the_browser(channel, municipality):
    request = apply_residence(municipality.code, ALICE)
    client = Client()
    url = reverse("line:liff_request", args=[municipality.code, request.public_id])
    sign_url = reverse("web:sign", args=[municipality.code, request.public_id])
    assert client.get(sign_url).status_code == 404  # not this browser's request yet
    cases = [
        (lambda n: issue_id_token(channel, BOB, n), "別のLINEアカウント"),  # someone else's token
        (lambda n: issue_id_token(channel, ALICE, "other-nonce"), "期限が切れたか"),  # replayed from another page
        (lambda n: issue_id_token(channel, ALICE, n, lifetime=-10), "期限が切れたか"),  # expired
        (lambda n: issue_id_token(channel, ALICE, n)[:-4] + "AAAA", "期限が切れたか"),  # forged
        (lambda n: "", "本人確認ができませんでした"),
    ]
    for make, message in cases:
        nonce = _liff(client, municipality.code, request)
        response = client.post(url, {"id_token": make(nonce)}, follow=True)
        assert message in response.content.decode(), message
        assert RequestBinding.objects.get().liff_verified_at is None
    nonce = _liff(client, municipality.code, request)
    response = client.post(url, {"id_token": issue_id_token(channel, ALICE, nonce)})
    assert response.status_code == 302 and response["Location"] == sign_url
    assert RequestBinding.objects.get().liff_verified_at is not None
    assert client.get(sign_url).status_code == 200
    # A LIFF-browser token without our nonce is accepted only while fresh.
    for token, accepted in [(issue_id_token(channel, ALICE, None, issued_at=int(time.time()) - 3600, lifetime=7200),
                             False), (issue_id_token(channel, ALICE, None), True)]:
        _liff(client, municipality.code, request)
        response = client.post(url, {"id_token": token})
        assert (response.status_code == 302 and response["Location"] == sign_url) is accepted
    # The nonce is spent: the same token cannot be posted again.
    again = client.post(url, {"id_token": issue_id_token(channel, ALICE, nonce)}, follow=True)
    assert "本人確認ができませんでした" in again.content.decode()


def test_liff_audience_must_be_our_login_channel(channel, municipality, other_municipality):
    other = make_channel(other_municipality)
    request = apply_residence(municipality.code, ALICE)
    client = Client()
    nonce = _liff(client, municipality.code, request)
    token = issue_id_token(other, ALICE, nonce)
    response = client.post(reverse("line:liff_request", args=[municipality.code, request.public_id]),
                           {"id_token": token}, follow=True)
    assert "期限が切れたか" in response.content.decode()


# --- push notices, KPI, linking --------------------------------------------------------------------

def _received_via_line(channel, municipality, resident) -> CertificateRequest:
    deliver(municipality.code, event("follow", ALICE, follow={"isUnblocked": False}))
    request = apply_residence(municipality.code, ALICE)
    sign(request, resident)
    pay(request)
    request.refresh_from_db()
    return request


def test_every_state_change_is_pushed_once(channel, municipality, resident, clerk):
    request = _received_via_line(channel, municipality, resident)
    assert request.state == State.RECEIVED
    received = [m for m in PLATFORM.bot_messages(municipality.code, ALICE) if "受け付けました" in m.get("text", "")]
    assert len(received) == 1 and request.formatted_reception_number in received[0]["text"]
    assert "連携しますか" in last(municipality.code, ALICE)["text"]  # consent offered after a JPKI request
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "1234-5678-9012")
    actions.complete(request)
    all_text = "\n".join(texts(municipality.code, ALICE))
    assert "証明書を発行しました" in all_text and "お問い合わせ番号: 1234-5678-9012" in all_text
    survey = last(municipality.code, ALICE)
    assert "満足度" in survey["text"] and list(buttons(survey)) == ["1", "2", "3", "4", "5"]
    press(municipality.code, ALICE, "4")
    press_again = buttons(PLATFORM.bot_messages(municipality.code, ALICE)[-2])["5"]
    tap(municipality.code, ALICE, press_again)
    assert SatisfactionAnswer.objects.get(request=request).score == 4
    assert "すでに回答" in last(municipality.code, ALICE)["text"]
    notices = Notice.objects.filter(request=request, transport="line")
    assert sorted(n.subject for n in notices) == ["completed", "issued", "mailed", "received"]
    assert {n.status for n in notices} == {NoticeStatus.SENT}
    # A replayed delivery task does nothing; a re-sent push with the same retry key is refused by LINE.
    count = len(PLATFORM.bot_messages(municipality.code, ALICE))
    notice = notices.get(subject="mailed")
    assert notice_tasks.deliver_notice.call(notice.pk) == "skipped"
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.PENDING)
    assert notice_tasks.deliver_notice.call(notice.pk) == "sent"
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == count


def test_rejection_is_pushed_with_the_reason(channel, municipality, resident, clerk):
    request = _received_via_line(channel, municipality, resident)
    actions.reject(request, clerk, "申請者の住所が確認できないため")
    assert "理由: 申請者の住所が確認できないため" in "\n".join(texts(municipality.code, ALICE))


def test_push_is_retried_with_backoff_when_line_is_down(channel, municipality, resident, settings, clerk):
    request = _received_via_line(channel, municipality, resident)
    working = settings.LINE_API_BASE_URL
    settings.LINE_API_BASE_URL = "http://127.0.0.1:9"
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    notice = Notice.objects.get(request=request, subject="issued")
    assert notice.status == NoticeStatus.PENDING and notice.attempts == 1 and notice.next_attempt_at > timezone.now()
    settings.LINE_API_BASE_URL = working
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    assert notice_tasks.deliver_due() == 1
    assert sum("発行しました" in t for t in texts(municipality.code, ALICE)) == 1


def test_no_push_to_a_user_who_blocked_the_account(channel, municipality, resident, clerk):
    request = _received_via_line(channel, municipality, resident)
    deliver(municipality.code, event("unfollow", ALICE))
    before = len(PLATFORM.bot_messages(municipality.code, ALICE))
    actions.reject(request, clerk, "重複した申請のため")
    notice = Notice.objects.get(request=request, subject="rejected")
    assert notice.status == NoticeStatus.UNDELIVERABLE
    assert len(PLATFORM.bot_messages(municipality.code, ALICE)) == before
    assert notice_tasks.deliver_due() == 0  # never retried


def test_friends_are_counted_per_day_and_municipality(channel, municipality, other_municipality):
    make_channel(other_municipality)
    deliver(municipality.code, event("follow", ALICE), event("follow", BOB))
    deliver(municipality.code, event("unfollow", BOB))
    deliver(other_municipality.code, event("follow", ALICE))
    today = FriendDaily.objects.get(municipality=municipality, day=timezone.localdate())
    assert (today.follows, today.unfollows) == (2, 1)
    assert FriendDaily.objects.get(municipality=other_municipality).follows == 1
    assert not LineUser.objects.get(municipality=municipality, user_id=BOB).following


def test_linking_needs_a_jpki_request_and_consent_and_can_be_undone(channel, municipality, resident):
    # Before any signed request: nothing to link with.
    deliver(municipality.code, event("follow", BOB))
    draft_only = apply_residence(municipality.code, BOB)
    tap(municipality.code, BOB, f"a=link&r={draft_only.public_id}")
    assert "連携できませんでした" in last(municipality.code, BOB)["text"]
    request = _received_via_line(channel, municipality, resident)
    # Someone else cannot link to Alice's request.
    tap(municipality.code, BOB, f"a=link&r={request.public_id}")
    assert LineUser.objects.get(user_id=BOB).resident is None
    press(municipality.code, ALICE, "同意して連携する")
    assert LineUser.objects.get(user_id=ALICE).resident == resident
    say(municipality.code, ALICE, "連携解除")
    assert LineUser.objects.get(user_id=ALICE).resident is None
    assert "解除しました" in last(municipality.code, ALICE)["text"]


def test_survey_postbacks_that_do_not_fit_are_refused(channel, municipality, resident):
    request = _received_via_line(channel, municipality, resident)
    for data in [f"a=survey&r={request.public_id}&v=4", f"a=survey&r={uuid.uuid4()}&v=4", "a=survey&r=x&v=9"]:
        tap(municipality.code, ALICE, data)
        assert "回答できません" in last(municipality.code, ALICE)["text"]
    assert not SatisfactionAnswer.objects.exists()


def test_rich_menu_command_uploads_and_sets_default(channel, municipality):
    call_command("line_richmenu", municipality.code)
    menu_id = PLATFORM.default_rich_menu[municipality.code]
    menu = PLATFORM.rich_menus[menu_id]
    assert menu["image"].startswith(b"\x89PNG")
    assert [a["action"]["label"] for a in menu["definition"]["areas"]] == ["証明書の申請", "申請状況"]


def test_housekeeping_handles_events_whose_task_was_lost(channel, municipality):
    from madoguchi.line.tasks import process_stale

    lost = event("message", ALICE, message={"type": "text", "text": "証明書の申請"})
    PLATFORM.reply_tokens[lost["replyToken"]] = (municipality.code, ALICE)
    WebhookEvent.objects.create(municipality=municipality, event_id=lost["webhookEventId"], event_type="message",
                                payload=lost)
    assert process_stale() == 0  # too recent: its task may still be on its way
    WebhookEvent.objects.update(received_at=timezone.now() - datetime.timedelta(minutes=5))
    call_command("housekeeping")
    assert WebhookEvent.objects.get().outcome == EventOutcome.HANDLED
    assert "どの証明書" in last(municipality.code, ALICE)["text"]
    assert process_stale() == 0


@pytest.mark.parametrize("certificate", ["住民票の写し", "住民票記載事項証明書", "印鑑登録証明書", "戸籍全部事項証明書",
                                         "戸籍個人事項証明書", "戸籍の附票の写し", "課税(非課税)・所得証明書"])
def test_every_certificate_type_survives_nonsense_at_each_step(channel, municipality, certificate):
    code = municipality.code
    tap(code, ALICE, "a=start")
    first = True
    while "template" not in last(code, ALICE):
        question = last(code, ALICE)
        choices = [label for label in buttons(question) if label not in {"やり直す", "やめる"}]
        say(code, ALICE, "🙂🙂🙂" if choices else "")
        assert texts(code, ALICE)[-2] in {"ボタンから選んでください。", "文字で入力してください。"}
        assert last(code, ALICE) == question  # the same question again, nothing lost
        if choices:
            press(code, ALICE, certificate if first else choices[0])
        else:
            say(code, ALICE, "窓口 太郎")
        first = False
    request = CertificateRequest.objects.get()
    assert request.get_certificate_type_display() == certificate and request.channel == "line"


def test_status_lists_only_this_users_requests(channel, municipality):
    say(municipality.code, BOB, "申請状況")
    assert "申請された証明書はありません" in last(municipality.code, BOB)["text"]
    apply_residence(municipality.code, ALICE)
    say(municipality.code, ALICE, "申請状況")
    assert "住民票の写し 受付前: 入力中" in last(municipality.code, ALICE)["text"]
    say(municipality.code, BOB, "申請状況")
    assert "申請された証明書はありません" in last(municipality.code, BOB)["text"]


# --- 「申請一覧」: this LINE user's own requests and a signed link to the web list ----------------------

def _list_link(code: str, user: str) -> str:
    template = last(code, user)["template"]
    uri = template["actions"][0]["uri"]
    return "/" + uri.split("://", 1)[1].split("/", 1)[1]


def test_request_list_shows_only_this_users_requests_with_wareki_dates_and_a_signed_link(
        channel, municipality, other_municipality, resident):
    from madoguchi.core.dates import to_wareki

    received = _received_via_line(channel, municipality, resident)
    tap(municipality.code, ALICE, "a=start")
    for label in ["住民票の写し", "本人のみ", "はい", "いいえ", "いいえ", "1通", "金融機関の手続き", "申請する"]:
        press(municipality.code, ALICE, label)
    drafted = CertificateRequest.objects.filter(line_binding__line_user__user_id=ALICE).latest("id")
    bobs = apply_residence(municipality.code, BOB)
    make_channel(other_municipality)
    tap(other_municipality.code, ALICE, "a=start")  # Alice in another town: nothing of it here
    say(municipality.code, ALICE, "申請一覧")
    listed = PLATFORM.bot_messages(municipality.code, ALICE)[-2]["text"]
    assert f"受付番号 {received.formatted_reception_number}" in listed
    assert "住民票の写し 1通 / 受付済み / " + to_wareki(timezone.localdate()) in listed
    assert "受付前" in listed and "入力中" in listed and listed.count("・") == 2
    assert last(municipality.code, ALICE)["template"]["actions"][0]["label"] == "申請の一覧を開く"
    # The link opens exactly Alice's requests in the web list, in any browser, for a day.
    browser = Client()
    response = browser.get(_list_link(municipality.code, ALICE))
    assert response.status_code == 302
    page = browser.get(response.url).content.decode()
    assert received.formatted_reception_number in page and "入力中" in page
    assert f"/r/{drafted.public_id}/" in page and f"/r/{bobs.public_id}/" not in page
    assert browser.get(reverse("web:request", args=[municipality.code, received.public_id])).status_code == 200
    # Bob's list is his own; the 申請状況 answer leads to the list too.
    say(municipality.code, BOB, "申請の一覧")
    bob_text = PLATFORM.bot_messages(municipality.code, BOB)[-2]["text"]
    assert received.formatted_reception_number not in bob_text and bob_text.count("・") == 1
    say(municipality.code, ALICE, "申請状況")
    assert "申請一覧" in buttons(last(municipality.code, ALICE))


def test_request_list_link_cannot_be_forged_or_moved_to_another_town(channel, municipality, other_municipality,
                                                                     resident):
    _received_via_line(channel, municipality, resident)
    say(municipality.code, ALICE, "申請一覧")
    link = _list_link(municipality.code, ALICE)
    token = link.rstrip("/").rsplit("/", 1)[1]
    forged = link.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    for url in (forged, link.replace(f"/m/{municipality.code}/", f"/m/{other_municipality.code}/"),
                reverse("web:requests_list_link", args=[municipality.code, "%00"]),
                reverse("web:requests_list_link", args=[municipality.code, "x" * 5000])):
        response = Client().get(url)
        assert response.status_code == 400 and "「申請一覧」と送ると" in response.content.decode()


def test_request_list_without_requests_offers_to_apply(channel, municipality):
    say(municipality.code, BOB, "申請一覧")
    assert "申請された証明書はありません" in last(municipality.code, BOB)["text"]
    assert "証明書の申請" in buttons(last(municipality.code, BOB))
