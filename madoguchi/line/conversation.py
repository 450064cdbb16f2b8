"""The conversation engine: a procedure is data (its steps), the state is a `Conversation` row.

Each step asks one question, offers its answers as quick-reply buttons where the answers are known,
and validates the answer with the same form field the web wizard uses, so the rules live in one
place (the kind's options form in `madoguchi.documents.kinds`, the rest in `madoguchi.applications.forms`
and `madoguchi.catalog`). 「やり直す」 and 「やめる」 work at every step.
"""

import datetime
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from django import forms as django_forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from linebot.v3.messaging import (
    ButtonsTemplate,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TemplateMessage,
    TextMessage,
    URIAction,
)

from madoguchi.applications import actions, forms
from madoguchi.applications.models import RESIDENT_CANCELLABLE, RequestChannel, State
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.documents.kinds import get_kind
from madoguchi.notifications import links
from madoguchi.tenancy.models import Municipality

from .models import Conversation, LineAccount, LineUser, RequestBinding

PROCEDURE = "certificate_request"
# A conversation untouched for this long is greeted before it continues.
RESUME_AFTER = datetime.timedelta(minutes=30)
RESTART, QUIT = gettext_lazy("やり直す"), gettext_lazy("やめる")
YES_NO = [("1", gettext_lazy("はい")), ("", gettext_lazy("いいえ"))]
LABEL_MAX = 20  # quick-reply label limit of the Messaging API

Answers = dict


@dataclass(frozen=True)
class Step:
    key: str
    question: str
    # The web form field that validates the answer.
    field: Callable[[Municipality, Answers], django_forms.Field]
    # Answer buttons; None means the answer is typed.
    choices: Callable[[Municipality, Answers], list[tuple[str, str]]] | None = None
    when: Callable[[Municipality, Answers], bool] = lambda m, a: True


def _options_field(name: str) -> Callable[[Municipality, Answers], django_forms.Field]:
    return lambda m, a: get_kind(a["certificate_type"]).options_form().fields[name]


def _has_option(name: str, extra: Callable[[Answers], bool] = lambda a: True):
    return lambda m, a: name in get_kind(a["certificate_type"]).options_form().fields and extra(a)


def _field_choices(field_of):
    return lambda m, a: [(str(v), str(label)) for v, label in field_of(m, a).choices]


def _postage_choices(m: Municipality, a: Answers) -> list[tuple[str, str]]:
    return [(p.code, f"{p.name}({p.amount}円)") for p in catalog.offered_postage(m)]


def _postage_field(m: Municipality, a: Answers) -> django_forms.Field:
    return django_forms.ChoiceField(choices=_postage_choices(m, a))


def _copies_field(name: str):
    return lambda m, a: forms.CopiesPurposeForm(municipality=m).fields[name]


def _type_field(m: Municipality, a: Answers) -> django_forms.Field:
    return forms.CertificateTypeForm(municipality=m).fields["certificate_type"]


STEPS: list[Step] = [
    Step("certificate_type", gettext_lazy("どの証明書が必要ですか?"), _type_field, _field_choices(_type_field)),
    Step("scope", gettext_lazy("証明が必要なのはどなたですか?"), _options_field("scope"),
         _field_choices(_options_field("scope")), _has_option("scope")),
    Step("members", gettext_lazy("必要な人の氏名を入力してください(例: 山田 花子、山田 一郎)。"),
         _options_field("members"), None, _has_option("members", lambda a: a.get("scope") == "partial")),
    Step("subject_name", gettext_lazy("証明が必要な人の氏名を入力してください。"), _options_field("subject_name"),
         None, _has_option("subject_name", lambda a: a.get("scope") == "other")),
    Step("subject_birth_date", gettext_lazy("証明が必要な人の生年月日を入力してください(例: 1980-04-01)。"),
         _options_field("subject_birth_date"), None,
         _has_option("subject_birth_date", lambda a: a.get("scope") == "other")),
    Step("show_relationship", gettext_lazy("世帯主の氏名と続柄を記載しますか?"), _options_field("show_relationship"),
         lambda m, a: YES_NO, _has_option("show_relationship")),
    Step("show_honseki",
         gettext_lazy("本籍と筆頭者を記載しますか?(自動車の登録やパスポートの申請などで必要な場合のみ)"),
         _options_field("show_honseki"), lambda m, a: YES_NO, _has_option("show_honseki")),
    Step("show_residence_status",
         gettext_lazy("在留資格・在留期間・在留カード等の番号などを記載しますか?(外国人住民の方で、提出先から求められた場合のみ)"),
         _options_field("show_residence_status"), lambda m, a: YES_NO, _has_option("show_residence_status")),
    Step("honseki", gettext_lazy("本籍を入力してください(例: 東京都窓口市本町一丁目2番地)。"),
         _options_field("honseki"), None, _has_option("honseki")),
    Step("koseki_head", gettext_lazy("筆頭者の氏名を入力してください。"), _options_field("koseki_head"), None,
         _has_option("koseki_head")),
    Step("fiscal_year", gettext_lazy("どの年度の証明書が必要ですか?"), _options_field("fiscal_year"),
         _field_choices(_options_field("fiscal_year")), _has_option("fiscal_year")),
    Step("tax_certificate_form", gettext_lazy("証明書の種類を選んでください(提出先が指定する種類)。"),
         _options_field("tax_certificate_form"), _field_choices(_options_field("tax_certificate_form")),
         _has_option("tax_certificate_form")),
    Step("copies", gettext_lazy("何通必要ですか?"), _copies_field("copies"), _field_choices(_copies_field("copies"))),
    Step("purpose", gettext_lazy("使いみちを選んでください。"), _copies_field("purpose"),
         _field_choices(_copies_field("purpose"))),
    Step("purpose_detail", gettext_lazy("使いみちを入力してください。"), _copies_field("purpose_detail"), None,
         lambda m, a: a.get("purpose") == "other"),
    Step("postage_class", gettext_lazy("郵送方法を選んでください。"), _postage_field, _postage_choices,
         lambda m, a: len(_postage_choices(m, a)) > 1),
]
STEP_BY_KEY = {s.key: s for s in STEPS}
CONFIRM = "confirm"
OPTION_KEYS = ["scope", "members", "subject_name", "subject_birth_date", "show_relationship", "show_honseki",
               "show_residence_status", "honseki", "koseki_head", "fiscal_year", "tax_certificate_form"]


@dataclass(frozen=True)
class Input:
    """What the user did: typed `text`, or tapped a postback button carrying `data`."""

    text: str = ""
    data: dict | None = None


def postback(action: str, **params: str) -> str:
    return urllib.parse.urlencode({"a": action, **params})


def parse_postback(data: str) -> dict:
    parsed = urllib.parse.parse_qs(data[:300], keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def quick(items: list[tuple[str, str]]) -> QuickReply:
    return QuickReply(items=[QuickReplyItem(action=PostbackAction(label=str(label)[:LABEL_MAX], data=data,
                                                                  displayText=str(label)))
                             for label, data in items[:13]])


def text(body: str, items: list[tuple[str, str]] | None = None) -> TextMessage:
    return TextMessage(text=body[:5000], quickReply=quick(items) if items else None)


def _controls() -> list[tuple[str, str]]:
    return [(str(RESTART), postback("restart")), (str(QUIT), postback("quit"))]


UNREAD = object()


class Engine:
    """Runs one user's input against their conversation. The caller holds the LineUser row lock."""

    def __init__(self, account: LineAccount, user: LineUser, conversation: Conversation | None | object = UNREAD):
        """`conversation`: the user's, when the caller has read it already (None: they have none)."""
        self.account = account
        self.municipality = account.municipality
        self.user = user
        self.conversation = (Conversation.objects.filter(line_user=user).first() if conversation is UNREAD
                             else conversation)

    # --- entry ------------------------------------------------------------------------------------

    def handle(self, given: Input) -> list[Message]:
        now = timezone.now()
        action = (given.data or {}).get("a", "")
        typed = given.text.strip()
        if not (self.municipality.accepting_requests
                and catalog.offers_request_channel(self.municipality, RequestChannel.LINE)):
            return [text(_("ただいまLINEでの証明書の申請は受け付けていません。ご不便をおかけして申し訳ありません。"
                           "お急ぎの場合は、窓口または郵送でご請求ください。"))]
        if action == "quit" or typed == str(QUIT):
            return self.quit()
        if action == "restart" or typed == str(RESTART):
            return self.start(fresh=True)
        if action == "start" or typed in {"証明書の申請", "申請", "しんせい"}:
            return self.start(fresh=False)
        if self.conversation is None:
            return [text(_("「証明書の申請」と送るか、メニューから選ぶと、証明書の申請を始められます。"),
                         [(_("証明書の申請"), postback("start"))])]
        if self.conversation.updated_at < now - RESUME_AFTER and action != "answer":
            self._touch()
            return [text(_("おかえりなさい。前回の申請の続きから再開します。")), self.ask()]
        if self.conversation.step == CONFIRM:
            return self.confirm(action, typed)
        return self.answer(given)

    def start(self, *, fresh: bool) -> list[Message]:
        if self.conversation and not fresh:
            self._touch()
            return [text(_("申請の途中です。続きから再開します。最初からにするときは「やり直す」を押してください。")),
                    self.ask()]
        self.conversation, _created = Conversation.objects.update_or_create(
            line_user=self.user, defaults=dict(municipality=self.municipality, procedure=PROCEDURE,
                                               step=STEPS[0].key, answers={}, updated_at=timezone.now()))
        return [text(_("証明書の申請を始めます。ボタンを押して答えてください。"
                       "途中で「やり直す」「やめる」もできます。")), self.ask()]

    def quit(self) -> list[Message]:
        if self.conversation:
            self.conversation.delete()
            self.conversation = None
        return [text(_("申請をやめました。またいつでも「証明書の申請」からどうぞ。"),
                     [(_("証明書の申請"), postback("start"))])]

    # --- steps ------------------------------------------------------------------------------------

    def _touch(self) -> None:
        self.conversation.updated_at = timezone.now()
        self.conversation.save(update_fields=["step", "answers", "updated_at"])

    def ask(self) -> Message:
        c = self.conversation
        if c.step == CONFIRM:
            return self.summary()
        step = STEP_BY_KEY[c.step]
        if step.choices is None:
            return text(str(step.question) + "\n" + _("(文字で入力してください)"), _controls())
        buttons = [(label, postback("answer", s=step.key, v=value))
                   for value, label in step.choices(self.municipality, c.answers)]
        return text(str(step.question), buttons + _controls())

    def answer(self, given: Input) -> list[Message]:
        c = self.conversation
        step = STEP_BY_KEY[c.step]
        data = given.data or {}
        if data:
            if data.get("a") != "answer" or data.get("s") != step.key:
                return [text(_("そのボタンは前の質問のものです。いまの質問に答えてください。")), self.ask()]
            raw = data.get("v", "")
            if step.choices is not None and raw not in {v for v, _label in step.choices(self.municipality, c.answers)}:
                return [text(_("ボタンから選んでください。")), self.ask()]
        elif step.choices is not None:
            # A typed label counts as pressing its button; anything else is asked again.
            labels = {label: value for value, label in step.choices(self.municipality, c.answers)}
            if given.text.strip() not in labels:
                return [text(_("ボタンから選んでください。")), self.ask()]
            raw = labels[given.text.strip()]
        else:
            raw = given.text.strip()
            if not raw:  # a typed step is only asked when its answer is needed
                return [text(_("文字で入力してください。")), self.ask()]
        try:
            value = step.field(self.municipality, c.answers).clean(raw)
        except ValidationError as exc:
            return [text(" ".join(str(m) for m in exc.messages) or _("入力内容を確認してください。")), self.ask()]
        if step.key == "certificate_type" and c.answers.get("certificate_type") != value:
            c.answers = {}
        c.answers[step.key] = value
        c.step = self._next_after(step.key)
        self._touch()
        return [self.ask()]

    def _next_after(self, key: str) -> str:
        keys = [s.key for s in STEPS]
        for step in STEPS[keys.index(key) + 1:]:
            if step.when(self.municipality, self.conversation.answers):
                return step.key
        return CONFIRM

    # --- confirm ----------------------------------------------------------------------------------

    def _terms(self) -> dict:
        a = self.conversation.answers
        # With a single postage class the question is skipped and that class is used.
        postage = a.get("postage_class") or next(iter(_postage_choices(self.municipality, a)), ("", ""))[0]
        return dict(certificate_type=a["certificate_type"], copies=a["copies"], purpose=a["purpose"],
                    purpose_detail=a.get("purpose_detail", ""), postage_class=postage,
                    options={k: a[k] for k in OPTION_KEYS if k in a})

    def _validate(self) -> tuple[str, str] | None:
        """The web forms' whole-form rules over the collected answers: (step to ask again, message)."""
        terms = self._terms()
        options = get_kind(terms["certificate_type"]).options_form({
            k: v for k, v in terms["options"].items() if v not in (False, None)})
        if not options.is_valid():
            field, errors = next(iter(options.errors.items()))
            return (field if field in STEP_BY_KEY else STEPS[0].key), " ".join(errors)
        copies = forms.CopiesPurposeForm({k: terms[k] for k in ("copies", "purpose", "purpose_detail")})
        if not copies.is_valid():
            field, errors = next(iter(copies.errors.items()))
            return (field if field in STEP_BY_KEY else "copies"), " ".join(errors)
        return None

    def summary(self) -> Message:
        terms = self._terms()
        try:
            q = catalog.quote(self.municipality, terms["certificate_type"], terms["copies"], terms["postage_class"],
                              timezone.localdate(), purpose=terms["purpose"])
        except catalog.CatalogError as exc:
            return text(str(exc), _controls())
        lines = [_("この内容で申請しますか?"),
                 _("証明書: {label} {n}通").format(label=CertificateType(terms["certificate_type"]).label,
                                                  n=terms["copies"]),
                 _("使いみち: {p}").format(p=dict(catalog.PURPOSES).get(terms["purpose"], "")
                                        if terms["purpose"] != "other" else terms["purpose_detail"]),
                 _("手数料 {fee}円 + 郵便料 {postage}円 = 合計 {total}円").format(
                     fee=q.fee_total, postage=q.postage_amount, total=q.total),
                 *([_("手数料免除: {reason}").format(reason=q.exemption_reason)] if q.exemption_reason else []),
                 *([q.campaign_name] if q.campaign_name else []),
                 _("証明書は住民登録の住所へ郵送します。")]
        return text("\n".join(lines), [(_("申請する"), postback("confirm"))] + _controls())

    def confirm(self, action: str, typed: str) -> list[Message]:
        if action != "confirm" and typed != _("申請する"):
            return [text(_("ボタンから選んでください。")), self.ask()]
        problem = self._validate()
        if problem:
            self.conversation.step = problem[0]
            self._touch()
            return [text(problem[1]), self.ask()]
        try:
            request = actions.create_draft(self.municipality, channel=RequestChannel.LINE, **self._terms())
        except actions.ActionError as exc:
            return [text(str(exc)), self.ask()]
        RequestBinding.objects.create(municipality=self.municipality, request=request, line_user=self.user)
        self.conversation.delete()
        self.conversation = None
        return [TemplateMessage(
            altText=_("申請の続き: マイナンバーカードで署名して、お支払いへ進んでください。"),
            template=ButtonsTemplate(
                text=_("申請内容を保存しました。次にマイナンバーカードで署名して、お支払いへ進んでください。"),
                actions=[URIAction(label=_("署名とお支払いへ"), uri=liff_url(self.account, request.public_id))]))]


def liff_url(account: LineAccount, public_id) -> str:
    """LIFF opens `<endpoint URL>/r/<id>/` inside LINE (the LIFF app's endpoint is /line/<code>/liff)."""
    return f"{settings.LINE_LIFF_URL}/{account.liff_id}/r/{public_id}/"


def status_messages(account: LineAccount, user: LineUser) -> list[Message]:
    """The latest requests from this account, with what the resident can do about each: confirm
    receipt once mailed, cancel before approval, correct one sent back (the web page, through LIFF)."""
    bindings = (RequestBinding.objects.filter(municipality_id=user.municipality_id, line_user=user)
                .select_related("request").order_by("-created_at")[:3])
    if not bindings:
        return [text(_("このLINEから申請された証明書はありません。"), [(_("証明書の申請"), postback("start"))])]
    lines = [_("最近の申請の状況です。")]
    buttons: list[tuple[str, str]] = []
    returned = []
    for b in bindings:
        r = b.request
        number = r.formatted_reception_number or _("受付前")
        lines.append(f"{r.get_certificate_type_display()} {number}: {r.get_state_display()}")
        tail = r.reception_number[-4:] if r.reception_number else ""
        if r.state == State.MAILED:
            buttons.append((_("受け取りました({n})").format(n=tail), postback("receipt", r=str(r.public_id))))
        if r.state in RESIDENT_CANCELLABLE and r.reception_number:
            buttons.append((_("取り消す({n})").format(n=tail), postback("cancel", r=str(r.public_id))))
        if r.state == State.RETURNED:
            returned.append(r)
    # Beyond the latest three: the whole list with its web link.
    messages: list[Message] = [text("\n".join(lines), buttons + [(_("申請一覧"), postback("list"))])]
    for r in returned:
        messages.append(correction_button(account, r))
    return messages


LIST_MAX = 10  # requests in one 「申請一覧」 answer (the newest); the web list opened by its link shows them


def list_messages(account: LineAccount, user: LineUser) -> list[Message]:
    """「申請一覧」: this LINE user's own requests (bound to them when made in this chat), newest first —
    reception number, certificate, state and date in 和暦 — and a signed link that opens the same
    requests in the web 「申請の一覧」 with their history, receipts and what can be done."""
    bindings = list(RequestBinding.objects.filter(municipality_id=account.municipality_id, line_user=user)
                    .select_related("request").order_by("-created_at", "-id")[:LIST_MAX])
    if not bindings:
        return [text(_("このLINEから申請された証明書はありません。"), [(_("証明書の申請"), postback("start"))])]
    lines = [_("このLINEからの申請の一覧です(新しい順に{n}件まで)。").format(n=LIST_MAX)]
    for b in bindings:
        r = b.request
        made = timezone.localtime(r.received_at or r.created_at).date()
        number = (_("受付番号 {number}").format(number=r.formatted_reception_number) if r.reception_number
                  else _("受付前"))
        lines.append(_("・{number}\n  {kind} {copies}通 / {state} / {date}").format(
            number=number, kind=r.get_certificate_type_display(), copies=r.copies, state=r.get_state_display(),
            date=to_wareki(made)))
    messages: list[Message] = [text("\n".join(lines))]
    url = links.requests_list_url(account.municipality, [b.request for b in bindings])
    if url:
        messages.append(TemplateMessage(
            altText=_("申請の一覧を開くリンク(24時間有効)"),
            template=ButtonsTemplate(
                text=_("経過、お問い合わせ番号、領収書や、取消・修正は申請の一覧で確認できます(リンクは24時間有効)。"),
                actions=[URIAction(label=_("申請の一覧を開く"), uri=url)])))
    return messages


def correction_button(account: LineAccount, request) -> Message:
    """The way to the correction page of a request sent back (LIFF proves the LINE user first)."""
    return TemplateMessage(
        altText=_("差戻しされた申請を修正してください。"),
        template=ButtonsTemplate(
            text=_("受付番号 {number} の申請が差し戻されました。内容を修正してください。").format(
                number=request.formatted_reception_number)[:160],
            actions=[URIAction(label=_("申請を修正する"), uri=liff_url(account, request.public_id))]))
