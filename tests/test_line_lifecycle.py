"""The lifecycle in LINE: receipt from the 発送 notice, the survey with its comment, cancelling from the
account the request came from, the 差戻し notice — with postbacks that are forged, replayed or late."""

import json

import pytest

from madoguchi.applications import actions
from madoguchi.applications.models import SatisfactionAnswer, State
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.notifications.models import Notice
from madoguchi.payments.models import PaymentStatus, Refund

from .line_helpers import buttons, event, last, post, press, say, tap
from .test_line import ALICE, BOB, _received_via_line, channel, clerk  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def say_escaped(code: str, user: str, words: str):
    """A text message whose JSON escapes every non-ASCII character (\\uXXXX), lone surrogates too."""
    sent = event("message", user, message={"type": "text", "id": "1", "text": words})
    PLATFORM.reply_tokens[sent["replyToken"]] = (code, user)
    assert post(code, json.dumps({"events": [sent]}).encode()).status_code == 200


def mailed_via_line(channel, municipality, resident, clerk):  # noqa: F811
    request = _received_via_line(channel, municipality, resident)
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "1234")
    return request


def test_receipt_from_the_mailed_notice_then_survey_and_comment(channel, municipality, resident, clerk):  # noqa: F811
    request = mailed_via_line(channel, municipality, resident, clerk)
    notice = last(municipality.code, ALICE)
    assert "受け取りました" in notice["text"]
    receipt = buttons(notice)["受け取りました"]
    tap(municipality.code, BOB, receipt)  # another LINE user cannot confirm Alice's request
    assert "申請したLINEアカウントからのみ" in last(municipality.code, BOB)["text"]
    tap(municipality.code, ALICE, receipt)
    tap(municipality.code, ALICE, receipt)  # replayed
    request.refresh_from_db()
    assert request.state == State.COMPLETED
    assert Notice.objects.filter(request=request, subject="completed", transport="line").count() == 1
    survey = next(m for m in reversed(PLATFORM.bot_messages(municipality.code, ALICE)) if "満足度" in m.get("text", ""))
    tap(municipality.code, ALICE, buttons(survey)["5"])
    assert "ご意見があれば" in last(municipality.code, ALICE)["text"]
    say_escaped(municipality.code, ALICE, "ご意見\ud800")  # a lone surrogate, as JSON can carry it
    assert "使えない文字" in last(municipality.code, ALICE)["text"]
    assert SatisfactionAnswer.objects.get(request=request).comment == ""
    tap(municipality.code, ALICE, buttons(survey)["5"])  # the survey again: refused, one answer
    assert "すでに回答" in last(municipality.code, ALICE)["text"]
    answer = SatisfactionAnswer.objects.get(request=request)
    assert (answer.score, answer.channel) == (5, "line")


def test_comment_after_the_score_is_kept_once(channel, municipality, resident, clerk):  # noqa: F811
    request = mailed_via_line(channel, municipality, resident, clerk)
    actions.confirm_receipt(request, channel="web")
    tap(municipality.code, ALICE, f"a=survey&r={request.public_id}&v=3")
    say(municipality.code, ALICE, "とても便利でした")
    assert "ご意見ありがとうございました" in last(municipality.code, ALICE)["text"]
    say(municipality.code, ALICE, "追記")  # no longer waiting for a comment: the conversation answers
    assert SatisfactionAnswer.objects.get(request=request).comment == "とても便利でした"
    with pytest.raises(actions.ActionError, match="すでに"):
        actions.add_survey_comment(request, "上書き")


def test_cancel_from_the_account_the_request_came_from(channel, municipality, resident, clerk):  # noqa: F811
    request = _received_via_line(channel, municipality, resident)
    say(municipality.code, ALICE, "申請状況")
    status = last(municipality.code, ALICE)
    label = next(label for label in buttons(status) if label.startswith("取り消す"))
    tap(municipality.code, BOB, buttons(status)[label])
    assert "申請したLINEアカウントからのみ" in last(municipality.code, BOB)["text"]
    tap(municipality.code, BOB, f"a=cancel_confirm&r={request.public_id}")  # forged confirmation
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    press(municipality.code, ALICE, label)
    assert "取り消しますか" in last(municipality.code, ALICE)["text"]
    confirm = buttons(last(municipality.code, ALICE))["取り消す"]
    tap(municipality.code, ALICE, confirm)
    tap(municipality.code, ALICE, confirm)  # replayed
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert request.payments.get().status == PaymentStatus.REFUNDED and Refund.objects.count() == 1
    pushed = [m.get("text", "") for m in PLATFORM.bot_messages(municipality.code, ALICE)]
    assert sum("ご依頼により、申請を取り消しました" in t for t in pushed) == 1
    assert any("すでに取り消されています" in t for t in pushed)


def test_cancel_after_approval_and_malformed_postbacks(channel, municipality, resident, clerk):  # noqa: F811
    request = _received_via_line(channel, municipality, resident)
    actions.approve(request, clerk)
    tap(municipality.code, ALICE, f"a=cancel_confirm&r={request.public_id}")
    assert "取り消せません" in last(municipality.code, ALICE)["text"]
    for data in ["a=cancel&r=", "a=cancel&r=%00", "a=receipt&r=not-a-uuid", "a=cancel_confirm&r=" + "f" * 400]:
        tap(municipality.code, ALICE, data)
        assert "のみ" in last(municipality.code, ALICE)["text"]
    # A lone surrogate in the postback data, escaped in the JSON as LINE could send it.
    forged = event("postback", ALICE, postback={"data": "a=cancel_confirm&r=\ud800"})
    PLATFORM.reply_tokens[forged["replyToken"]] = (municipality.code, ALICE)
    assert post(municipality.code, json.dumps({"events": [forged]}).encode()).status_code == 200
    assert "のみ" in last(municipality.code, ALICE)["text"]
    request.refresh_from_db()
    assert request.state == State.APPROVED and not Refund.objects.exists()


def test_returned_notice_links_to_the_correction_page(channel, municipality, resident, clerk):  # noqa: F811
    request = _received_via_line(channel, municipality, resident)
    actions.send_back(request, clerk, "purpose", "提出先を教えてください")
    messages = PLATFORM.bot_messages(municipality.code, ALICE)
    assert "差し戻しました" in messages[-2]["text"] and "提出先を教えてください" in messages[-2]["text"]
    action = messages[-1]["template"]["actions"][0]
    assert action["label"] == "申請を修正する" and str(request.public_id) in action["uri"]
    say(municipality.code, ALICE, "申請状況")
    assert last(municipality.code, ALICE)["template"]["actions"][0]["label"] == "申請を修正する"
