"""Resident pages: apply in small steps, sign with the My Number Card, pay, follow the status.

Wizard answers live in the session until the confirm step creates the draft request; from then on
the request's public id in the session is what lets this browser continue it.
"""

import datetime
import hashlib
import json
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications import actions, reception
from madoguchi.applications import forms as terms
from madoguchi.applications.models import (
    RESIDENT_CANCELLABLE,
    CertificateRequest,
    RequestChannel,
    RequestEvent,
    SatisfactionAnswer,
    State,
)
from madoguchi.applications.progress import progress_of
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType
from madoguchi.core.http import (
    MAX_GRANTED_REQUESTS,
    client_ip,
    grant_requests,
    ip_bucket,
    owned_request_ids,
    owns_request,
    remember_request,
)
from madoguchi.core.throttle import hit, hit_each
from madoguchi.documents.kinds import get_kind
from madoguchi.identity import authentication
from madoguchi.identity.providers import get_provider as get_identity_provider
from madoguchi.payments import ledger
from madoguchi.tenancy.models import Municipality

from . import forms, guide

STATUS_LIMIT = 10  # attempts per window per client and per reception number
STATUS_WINDOW = datetime.timedelta(minutes=15)
STEPS = ["type", "options", "copies", "delivery", "confirm"]
# Answers that do not depend on the certificate chosen: kept when the resident changes the certificate.
COMMON_ANSWERS = ("copies", "purpose", "purpose_detail", "postage_class", "notice_email")
# What each step stores in the session; a step is answered when its key is there.
ANSWERED_BY = {"type": "certificate_type", "options": "options", "copies": "copies", "delivery": "postage_class"}


def _municipality(code: str) -> Municipality:
    return get_object_or_404(Municipality, code=code)


def open_only(view):
    """Pages that start or continue a request: closed (a polite page, 503) while the municipality is
    preparing (first-run checklist), suspended by the service operator, or not offering the web.
    The status and done pages stay open, so residents can follow requests already made."""

    @wraps(view)
    def wrapped(http_request, code, *args, **kwargs):
        municipality = _municipality(code)
        if not (municipality.accepting_requests and catalog.offers_request_channel(municipality, "web")):
            return render(http_request, "web/closed.html",
                          {"m": municipality, "preparing": not municipality.launched}, status=503)
        return view(http_request, code, *args, **kwargs)

    return wrapped


def _wizard(http_request, municipality: Municipality) -> dict:
    return http_request.session.setdefault(f"apply:{municipality.code}", {})


def _save_wizard(http_request, municipality: Municipality, data: dict) -> None:
    http_request.session[f"apply:{municipality.code}"] = data


def _owned_request(http_request, code: str, public_id) -> CertificateRequest:
    if not owns_request(http_request, public_id):
        raise Http404
    return get_object_or_404(CertificateRequest.objects.select_related("municipality"),
                             municipality__code=code, public_id=public_id)


def index(http_request):
    return render(http_request, "web/index.html", {"municipalities": Municipality.objects.filter(
        launched=True, suspended_at__isnull=True).order_by("code")})


@open_only
def home(http_request, code):
    """The start page: who can apply, what it costs, how long it takes, what is needed."""
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if data.get("draft") and not _open_draft(municipality, data["draft"]["id"]):
        _save_wizard(http_request, municipality, {})  # that request went on: the next one starts afresh
    today = timezone.localdate()
    return render(http_request, "web/home.html", {
        "m": municipality, "offers": [o for o in guide.offers(municipality, today) if o.fee is not None],
        "postage": guide.postage_range(municipality), "ship_by": guide.ship_by(municipality, today),
        "journey": guide.JOURNEY})


def _step(http_request, code, step, form, extra=None):
    municipality = _municipality(code)
    context = {"m": municipality, "form": form, "returning": _returning(http_request), **guide.progress(step)}
    context.update(extra or {})
    return render(http_request, f"web/apply_{step}.html", context)


def _returning(http_request) -> bool:
    """Came from the 変更 link of the confirmation page (the query string rides along with the form)."""
    return http_request.GET.get("return") == "confirm"


def _next(http_request, code, data, next_step):
    """After a step: back to the confirmation when changing one answer and the rest still stand."""
    if _returning(http_request):
        missing = [s for s in STEPS[:-1] if ANSWERED_BY[s] not in data]
        if not missing:
            return redirect("web:apply_confirm", code=code)
        return redirect(reverse(f"web:apply_{missing[0]}", args=[code]) + "?return=confirm")
    return redirect(f"web:apply_{next_step}", code=code)


@require_http_methods(["GET", "POST"])
@open_only
def apply_type(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    form = terms.CertificateTypeForm(http_request.POST or None, initial=data, municipality=municipality)
    offered = {code for code, _label in form.fields["certificate_type"].choices}  # the municipality's catalog
    offers = {o.code: o for o in guide.offers(municipality, timezone.localdate()) if o.code in offered}
    form.fields["certificate_type"].choices = [(o.code, o.label) for o in offers.values() if o.fee is not None]
    form.fields["certificate_type"].widget = forms.HelpRadioSelect(
        choices=form.fields["certificate_type"].choices,
        details={code: {"fee": o.fee, "help": o.help} for code, o in offers.items()})
    if http_request.method == "POST" and form.is_valid():
        if form.cleaned_data["certificate_type"] != data.get("certificate_type"):
            # Another certificate asks other options; copies, purpose and delivery still stand.
            data = {key: data[key] for key in COMMON_ANSWERS if key in data}
        data["certificate_type"] = form.cleaned_data["certificate_type"]
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "options")
    return _step(http_request, code, "type", form)


def _options_form(data, post=None):
    return get_kind(data["certificate_type"]).options_form(post, initial=data.get("options"))


@require_http_methods(["GET", "POST"])
@open_only
def apply_options(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "certificate_type" not in data:
        return redirect("web:apply_type", code=code)
    form = _options_form(data, http_request.POST or None)
    if http_request.method == "POST" and form.is_valid():
        data["options"] = form.cleaned_data
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "copies")
    return _step(http_request, code, "options", form,
                 {"certificate_label": CertificateType(data["certificate_type"]).label,
                  "help_template": _existing(f"web/help/options_{data['certificate_type']}.html")})


@require_http_methods(["GET", "POST"])
@open_only
def apply_copies(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "options" not in data:
        return redirect("web:apply_options", code=code)
    form = terms.CopiesPurposeForm(http_request.POST or None, initial=data, municipality=municipality)
    if http_request.method == "POST" and form.is_valid():
        data.update(form.cleaned_data)
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "delivery")
    return _step(http_request, code, "copies", form)


def _postage_choices(municipality):
    return [(p.code, f"{p.name}({p.amount}円)") for p in catalog.offered_postage(municipality)]


@require_http_methods(["GET", "POST"])
@open_only
def apply_delivery(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "copies" not in data:
        return redirect("web:apply_copies", code=code)
    form = terms.DeliveryForm(http_request.POST or None, initial=data,
                              postage_choices=_postage_choices(municipality))
    if http_request.method == "POST" and form.is_valid():
        data.update(form.cleaned_data)
        _save_wizard(http_request, municipality, data)
        return _next(http_request, code, data, "confirm")
    return _step(http_request, code, "delivery", form)


def _shown_total(http_request) -> int | None:
    """The total the confirmation page showed (a hidden field); garbage never matches a real total.
    Without it (not our form) the payment page still shows the amount before anything is charged."""
    value = http_request.POST.get("shown_total")
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else -1


@require_http_methods(["GET", "POST"])
@open_only
def apply_confirm(http_request, code):
    municipality = _municipality(code)
    data = _wizard(http_request, municipality)
    if "postage_class" not in data:
        return redirect("web:apply_delivery", code=code)
    try:
        quote = catalog.quote(municipality, data["certificate_type"], data["copies"], data["postage_class"],
                              timezone.localdate(), purpose=data["purpose"])
    except catalog.CatalogError as exc:
        messages.error(http_request, str(exc))
        return redirect("web:apply_type", code=code)
    if http_request.method == "POST":
        # Back from the card page and 申請する again with the same answers: the same draft, not a second.
        draft = data.get("draft")
        if draft and draft["answers"] == _fingerprint(data) and owns_request(http_request, draft["id"]) \
                and _open_draft(municipality, draft["id"]):
            return redirect("web:sign", code=code, public_id=draft["id"])
        try:
            request = actions.create_draft(
                municipality, certificate_type=data["certificate_type"], options=data["options"],
                copies=data["copies"], purpose=data["purpose"], purpose_detail=data.get("purpose_detail", ""),
                postage_class=data["postage_class"], notice_email=data.get("notice_email", ""),
                shown_total=_shown_total(http_request))
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("web:apply_confirm", code=code)
        remember_request(http_request, request.public_id)
        # The answers stay: Back from the card page finds every step filled in.
        data["draft"] = {"id": str(request.public_id), "answers": _fingerprint(data)}
        _save_wizard(http_request, municipality, data)
        return redirect("web:sign", code=code, public_id=request.public_id)
    purpose_label = dict(catalog.PURPOSES).get(data["purpose"], "")
    return _step(http_request, code, "confirm", None, {
        "data": data, "quote": quote, "purpose_label": purpose_label,
        "certificate_label": CertificateType(data["certificate_type"]).label,
        "postage_label": dict(_postage_choices(municipality)).get(data["postage_class"], ""),
    })


def _existing(template_name: str) -> str | None:
    try:
        get_template(template_name)
    except TemplateDoesNotExist:
        return None
    return template_name


def _fingerprint(data: dict) -> str:
    answers = {key: value for key, value in data.items() if key != "draft"}
    return hashlib.sha256(json.dumps(answers, sort_keys=True, default=str).encode()).hexdigest()


def _open_draft(municipality, public_id) -> bool:
    return CertificateRequest.objects.filter(municipality=municipality, public_id=public_id,
                                             state=State.DRAFT).exists()


@require_http_methods(["GET", "POST"])
@open_only
def sign(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    if request.state != State.DRAFT:
        return redirect("web:pay", code=code, public_id=public_id)
    if http_request.method == "POST":
        # The provider records the signature through the workflow and comes back to these pages.
        challenge = actions.start_signing(request, return_url=reverse("web:pay", args=[code, public_id]),
                                          retry_url=reverse("web:sign", args=[code, public_id]))
        return redirect(get_identity_provider().signing_url(challenge.nonce))
    return render(http_request, "web/sign.html", {"m": request.municipality, "r": request, **guide.progress("sign")})


@require_http_methods(["GET", "POST"])
@open_only
def pay(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    if request.state == State.DRAFT:
        return redirect("web:sign", code=code, public_id=public_id)
    if request.state not in {State.SIGNED, State.AWAITING_PAYMENT}:
        return redirect("web:done", code=code, public_id=public_id)
    if http_request.method == "POST":
        try:
            url = actions.start_payment(request, reverse("web:done", args=[code, public_id]))
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("web:pay", code=code, public_id=public_id)
        return redirect(url)
    return render(http_request, "web/pay.html", {"m": request.municipality, "r": request, **guide.progress("pay")})


def done(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    context = {"m": request.municipality, "r": request}
    if request.state in {State.SIGNED, State.AWAITING_PAYMENT}:
        context.update(guide.progress("pay"))
    elif request.reception_number:
        context.update(guide.progress("done"))
    return render(http_request, "web/done.html", context)


@require_http_methods(["GET", "POST"])
def status(http_request, code):
    municipality = _municipality(code)
    form = forms.StatusForm(http_request.POST or None)
    context = {"m": municipality, "form": form}
    if http_request.method == "POST" and form.is_valid():
        number = reception.normalize(form.cleaned_data["reception_number"])
        # Numbers that fail their check digit cannot match a request and are not counted per number.
        keys = [f"status:ip:{ip_bucket(client_ip(http_request))}"]
        if reception.is_valid(number):
            keys.append(f"status:number:{number}")
        if not hit_each(keys, STATUS_LIMIT, STATUS_WINDOW):
            context["throttled"] = True
            return render(http_request, "web/status.html", context, status=429)
        request = None
        if reception.is_valid(number):
            request = CertificateRequest.objects.filter(
                municipality=municipality, reception_number=number,
                resident__date_of_birth=form.cleaned_data["date_of_birth"]).first()
        # Unknown number and wrong date of birth get the same answer.
        if request is not None:
            # Knowing the number and the date of birth lets this browser act on the request (cancel
            # with a code or the card, confirm receipt, answer the survey, correct it).
            remember_request(http_request, request.public_id)
        context["p"] = progress_of(request) if request else None
        context["r"] = request
        context["looked_up"] = True
    return render(http_request, "web/status.html", context)



def legal(http_request, code, page):
    """The privacy notice, the terms of use and the accessibility statement of one municipality."""
    municipality = _municipality(code)
    return render(http_request, f"web/legal/{page}.html", {"m": municipality, "page": page})


# --- after 受付: the resident's own request (status page, notice links, LIFF) ---------------------

LINK_SALT = "madoguchi.web.resident_link"
LINK_MAX_AGE = 60 * 60 * 24 * 90  # seconds: a notice link works for 90 days


def resident_link_url(request: CertificateRequest) -> str:
    """The signed link in an e-mail notice: opens this request's page in the resident's browser."""
    token = signing.dumps({"m": request.municipality.code, "r": str(request.public_id)}, salt=LINK_SALT,
                          compress=True)
    return settings.SITE_URL + reverse("web:resident_link", args=[request.municipality.code, token])


def resident_link(http_request, code, token):
    try:
        data = signing.loads(token[:400], salt=LINK_SALT, max_age=LINK_MAX_AGE)
        public_id = uuid.UUID(str(data["r"]))
        if data["m"] != code:
            raise ValueError(code)
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        return render(http_request, "web/error.html", {"message": _(
            "リンクが正しくないか、有効期限が切れています。受付番号と生年月日で申請の状況を確認してください。")},
            status=400)
    get_object_or_404(CertificateRequest, municipality__code=code, public_id=public_id)
    remember_request(http_request, public_id)
    return redirect("web:request", code=code, public_id=public_id)


def _request_context(request: CertificateRequest) -> dict:
    answered = SatisfactionAnswer.objects.filter(municipality_id=request.municipality_id, request=request).exists()
    # A cancelled request says what happens to the money, as the cancellation notice does.
    refunded, refunding = ledger.refund_totals(request) if request.state == State.CANCELLED else (0, 0)
    return {"m": request.municipality, "r": request, "p": progress_of(request),
            "refund_total": refunded + refunding, "refund_pending": refunding > 0,
            "cancellable": request.state in RESIDENT_CANCELLABLE and request.reception_number is not None,
            "correction": actions.open_correction(request) if request.state == State.RETURNED else None,
            "survey_form": forms.SurveyForm() if request.state == State.COMPLETED and not answered else None,
            "answered": answered}


def request_page(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    return render(http_request, "web/request.html", _request_context(request))


@require_POST
def confirm_receipt(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    try:
        actions.confirm_receipt(request, channel=RequestChannel.WEB)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        messages.success(http_request, _("受け取りを確認しました。ありがとうございました。"))
    return redirect("web:request", code=code, public_id=public_id)


@require_POST
def survey(http_request, code, public_id):
    request = _owned_request(http_request, code, public_id)
    form = forms.SurveyForm(http_request.POST)
    if not form.is_valid():
        context = _request_context(request)
        if context["survey_form"] is not None:
            context["survey_form"] = form
        return render(http_request, "web/request.html", context, status=400)
    try:
        actions.answer_survey(request, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"],
                              channel=RequestChannel.WEB)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        messages.success(http_request, _("ご回答ありがとうございました。今後のサービス改善に役立てます。"))
    return redirect("web:request", code=code, public_id=public_id)


@require_http_methods(["GET", "POST"])
def cancel(http_request, code, public_id):
    """Cancel with a one-time code sent to the notice address or LINE account, or — when the request
    has neither — by signing again with the card that signed it."""
    request = _owned_request(http_request, code, public_id)
    transports = actions.code_transports(request)
    form = forms.CancelCodeForm(http_request.POST if http_request.POST.get("op") == "confirm" else None)
    context = {"m": request.municipality, "r": request, "form": form, "transports": transports,
               "code_sent": http_request.session.get(f"cancel_code_sent:{public_id}", False)}
    if http_request.method == "POST":
        op = http_request.POST.get("op")
        try:
            if op == "send":
                actions.send_cancel_code(request)
                http_request.session[f"cancel_code_sent:{public_id}"] = True
                messages.success(http_request, _("確認コードを送りました。届いたコードを入力してください。"))
                return redirect("web:cancel", code=code, public_id=public_id)
            if op == "card":
                challenge = actions.start_cancel_signing(
                    request, return_url=reverse("web:request", args=[code, public_id]),
                    retry_url=reverse("web:cancel", args=[code, public_id]))
                return redirect(get_identity_provider().signing_url(challenge.nonce))
            if op == "confirm" and form.is_valid():
                actions.cancel_with_code(request, form.cleaned_data["code"], channel=RequestChannel.WEB,
                                         client=client_ip(http_request) or "")
                http_request.session.pop(f"cancel_code_sent:{public_id}", None)
                messages.success(http_request, _("申請を取り消しました。"))
                return redirect("web:request", code=code, public_id=public_id)
        except actions.ActionError as exc:
            if op != "confirm":
                messages.error(http_request, str(exc))
                return redirect("web:cancel", code=code, public_id=public_id)
            context["error"] = str(exc)
        return render(http_request, "web/cancel.html", context, status=400)
    if request.state not in RESIDENT_CANCELLABLE or request.reception_number is None:
        return redirect("web:request", code=code, public_id=public_id)
    return render(http_request, "web/cancel.html", context)


def _correction_forms(request: CertificateRequest, post=None):
    initial = {"copies": request.copies, "purpose": request.purpose, "purpose_detail": request.purpose_detail}
    return (terms.CopiesPurposeForm(post, initial=initial),
            get_kind(request.certificate_type).options_form(post, initial=request.options))


@require_http_methods(["GET", "POST"])
def correct(http_request, code, public_id):
    """差戻し: correct the terms, sign again when they changed, pay the difference when it costs more."""
    request = _owned_request(http_request, code, public_id)
    correction = actions.open_correction(request) if request.state == State.RETURNED else None
    if correction is None:
        return redirect("web:request", code=code, public_id=public_id)
    copies_form, options_form = _correction_forms(request, http_request.POST if http_request.method == "POST"
                                                  and http_request.POST.get("op") == "submit" else None)
    if http_request.method == "POST":
        op = http_request.POST.get("op")
        try:
            if op == "submit" and copies_form.is_valid() and options_form.is_valid():
                data = copies_form.cleaned_data
                actions.submit_correction(request, copies=data["copies"], purpose=data["purpose"],
                                          purpose_detail=data.get("purpose_detail", ""),
                                          options=options_form.cleaned_data, channel=RequestChannel.WEB)
                return redirect("web:correct", code=code, public_id=public_id)
            if op == "sign":
                here = reverse("web:correct", args=[code, public_id])
                challenge = actions.start_correction_signing(request, return_url=here, retry_url=here)
                return redirect(get_identity_provider().signing_url(challenge.nonce))
            if op == "pay":
                return redirect(actions.start_difference_payment(request, reverse("web:correct",
                                                                                  args=[code, public_id])))
        except actions.ActionError as exc:
            messages.error(http_request, str(exc))
            return redirect("web:correct", code=code, public_id=public_id)
        if op != "submit":
            raise Http404
    return render(http_request, "web/correct.html", {
        "m": request.municipality, "r": request, "correction": correction, "copies_form": copies_form,
        "options_form": options_form}, status=400 if http_request.method == "POST" else 200)


# --- 「申請の一覧」: every request of a notice address, opened from a signed link -----------------------

REQUESTS_LINK_SALT = "madoguchi.web.requests_link"
REQUESTS_LINK_MAX_AGE = 60 * 60 * 24  # seconds: the link works for a day
REQUESTS_LINK_LIMIT = 10  # link requests per client and window (each address has its own limit too)
REQUESTS_LINK_WINDOW = datetime.timedelta(minutes=15)
# How the list groups requests, in the order residents look for them.
GROUPS = [
    ("drafts", gettext_lazy("入力中(署名がまだの申請)"), {State.DRAFT}),
    ("unpaid", gettext_lazy("お支払い待ち"), {State.SIGNED, State.AWAITING_PAYMENT}),
    ("active", gettext_lazy("手続き中"), {State.RECEIVED, State.IN_REVIEW, State.APPROVED, State.ISSUED,
                                          State.MAILED, State.RETURNED, State.UNDELIVERED}),
    ("past", gettext_lazy("これまでの申請"), {State.COMPLETED, State.REJECTED, State.REFUNDED, State.CANCELLED,
                                              State.EXPIRED}),
]


def requests_link_url(request: CertificateRequest) -> str:
    """The signed link of a 「申請の一覧」 notice: names the request it was sent through and a hash of
    its notice address, so that the link stops working when the address is changed."""
    token = signing.dumps({"m": request.municipality.code, "r": str(request.public_id),
                           "e": actions.address_key(request.notice_email)}, salt=REQUESTS_LINK_SALT, compress=True)
    return settings.SITE_URL + reverse("web:requests_link", args=[request.municipality.code, token])


def _grant_key(code: str) -> str:
    return f"my_requests:{code}"


LIST_LINK_SALT = "madoguchi.web.requests_list_link"
LIST_LINK_MAX_REQUESTS = 10  # what one LINE message lists; the link stays short enough for a button


def _list_key(code: str) -> str:
    return f"my_requests_list:{code}"


def requests_list_url(municipality: Municipality, requests: list[CertificateRequest]) -> str:
    """A signed link that opens exactly these requests in 「申請の一覧」 for a day (sent by the LINE
    「申請一覧」 command to the LINE user they are bound to)."""
    token = signing.dumps({"m": municipality.code, "r": [r.public_id.hex for r in requests[:LIST_LINK_MAX_REQUESTS]]},
                          salt=LIST_LINK_SALT, compress=True)
    return settings.SITE_URL + reverse("web:requests_list_link", args=[municipality.code, token])


def requests_list_link(http_request, code, token):
    municipality = _municipality(code)
    try:
        data = signing.loads(token[:1000], salt=LIST_LINK_SALT, max_age=REQUESTS_LINK_MAX_AGE)
        if data["m"] != code or not isinstance(data["r"], list):
            raise ValueError(code)
        public_ids = [uuid.UUID(str(value)) for value in data["r"][:LIST_LINK_MAX_REQUESTS]]
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        return render(http_request, "web/error.html", {"m": municipality, "message": _(
            "リンクが正しくないか、有効期限(24時間)が切れています。LINEで「申請一覧」と送ると、新しいリンクが届きます。")},
            status=400)
    found = CertificateRequest.objects.filter(municipality=municipality, public_id__in=public_ids)
    http_request.session.cycle_key()  # a new session for what the link opens (no fixation)
    grant_requests(http_request, [r.public_id for r in found])
    http_request.session[_list_key(code)] = True
    return redirect("web:my_requests", code=code)


def _card_grant_key(code: str) -> str:
    return f"my_requests_card:{code}"


CARD_SIGN_IN_LIMIT = 10  # sign-in attempts with the card per client and window, as for the link
CARD_SIGN_IN_WINDOW = datetime.timedelta(minutes=15)


def my_requests_card(http_request, code):
    """Back from signing in with the card's 利用者証明用電子証明書 (`identity.authentication`): the
    person the replica links to the certificate's serial sees their requests in this browser."""
    municipality = _municipality(code)
    challenge = authentication.claim(http_request, municipality)
    if challenge is None:
        messages.error(http_request, authentication.MESSAGES[authentication.CHALLENGE])
        return redirect("web:my_requests", code=code)
    http_request.session.cycle_key()  # a new session for what the card opens (no fixation)
    http_request.session[_card_grant_key(code)] = challenge.resident_id
    messages.success(http_request, _("マイナンバーカードで本人確認しました。"))
    return redirect("web:my_requests", code=code)


def _start_card_sign_in(http_request, municipality):
    provider = get_identity_provider()
    if not provider.supports_authentication:
        raise Http404
    if not hit(f"card-sign-in:ip:{ip_bucket(client_ip(http_request))}", CARD_SIGN_IN_LIMIT, CARD_SIGN_IN_WINDOW):
        messages.error(http_request, _(
            "サインインの回数が多すぎます。15分ほど時間をおいてから、もう一度お試しください。"))
        return redirect("web:my_requests", code=municipality.code)
    challenge = authentication.start(http_request, municipality,
                                     return_url=reverse("web:my_requests_card", args=[municipality.code]),
                                     retry_url=reverse("web:my_requests", args=[municipality.code]))
    return redirect(provider.authentication_url(challenge.nonce))


def requests_link(http_request, code, token):
    municipality = _municipality(code)
    try:
        data = signing.loads(token[:400], salt=REQUESTS_LINK_SALT, max_age=REQUESTS_LINK_MAX_AGE)
        public_id = uuid.UUID(str(data["r"]))
        if data["m"] != code:
            raise ValueError(code)
        anchor = CertificateRequest.objects.get(municipality=municipality, public_id=public_id)
        if not anchor.notice_email or actions.address_key(anchor.notice_email) != data["e"]:
            raise ValueError("the notice address changed")
    except (signing.BadSignature, ValueError, KeyError, TypeError, CertificateRequest.DoesNotExist):
        return render(http_request, "web/error.html", {"m": municipality, "message": _(
            "リンクが正しくないか、有効期限(24時間)が切れています。申請の一覧のページから、もう一度リンクを受け取ってください。")},
            status=400)
    http_request.session.cycle_key()  # a new session for what the link opens (no fixation)
    http_request.session[_grant_key(code)] = anchor.notice_email
    return redirect("web:my_requests", code=code)


@require_http_methods(["GET", "POST"])
def my_requests(http_request, code):
    """「申請の一覧」: drafts, unpaid, in progress and past requests with their history, reasons, tracking
    numbers and receipts, and what can be done with each — for the requests of the notice address a
    signed link opened, and those this browser made."""
    municipality = _municipality(code)
    form = forms.RequestsLinkForm(http_request.POST if http_request.POST.get("op") == "send" else None)
    if http_request.method == "POST":
        op = http_request.POST.get("op")
        if op == "card":
            return _start_card_sign_in(http_request, municipality)
        if op == "forget":
            http_request.session.pop(_grant_key(code), None)
            http_request.session.pop(_card_grant_key(code), None)
            http_request.session.pop(_list_key(code), None)
            grant_requests(http_request, [])
            messages.success(http_request, _("この端末から申請の一覧を閉じました。"))
            return redirect("web:my_requests", code=code)
        if op == "send" and form.is_valid():
            try:
                if not hit(f"requests-link:ip:{client_ip(http_request)}", REQUESTS_LINK_LIMIT,
                           REQUESTS_LINK_WINDOW):
                    raise actions.ActionError(_(
                        "送信の回数が多すぎます。15分ほど時間をおいてから、もう一度お試しください。"))
                actions.send_requests_link(municipality, form.cleaned_data["email"])
            except actions.ActionError as exc:
                messages.error(http_request, str(exc))
            else:
                # The same answer whether or not the address is known: the page never tells who applied.
                messages.success(http_request, _(
                    "このメールアドレスでお知らせを受け取る申請があれば、一覧を開くリンクを送りました"
                    "(LINEから申請した方にはLINEにも送ります)。メールが届かないときは、入力したアドレスを確かめてください。"))
            return redirect("web:my_requests", code=code)
        if op != "send":
            raise Http404
    email = http_request.session.get(_grant_key(code), "")
    resident_id = http_request.session.get(_card_grant_key(code))
    found = CertificateRequest.objects.filter(municipality=municipality, public_id__in=owned_request_ids(http_request))
    if email:
        found = found | actions.requests_with_address(municipality, email)
    if isinstance(resident_id, int):
        found = found | CertificateRequest.objects.filter(municipality=municipality, resident_id=resident_id)
    found = list(found.distinct().order_by("-created_at", "-id")[:MAX_GRANTED_REQUESTS])
    if email or resident_id:
        grant_requests(http_request, [r.public_id for r in found])
    events_by_request = {}
    for event in RequestEvent.objects.filter(municipality=municipality, request__in=found).order_by("at", "id"):
        events_by_request.setdefault(event.request_id, []).append(event)
    items = [{"r": r, "p": progress_of(r, events_by_request.get(r.pk, [])),
              "cancellable": r.state in RESIDENT_CANCELLABLE and r.reception_number is not None,
              "withdrawable": r.state in {State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT}}
             for r in found]
    groups = [{"key": key, "label": label, "items": [i for i in items if i["r"].state in states]}
              for key, label, states in GROUPS]
    return render(http_request, "web/my_requests.html", {
        "m": municipality, "form": form, "email": email, "card": bool(resident_id), "groups": groups,
        "listed": bool(http_request.session.get(_list_key(code))),
        "empty": not items, "card_sign_in": get_identity_provider().supports_authentication},
        status=400 if http_request.method == "POST" else 200)


@require_POST
def withdraw(http_request, code, public_id):
    """Stop a request that is not paid yet (入力中, お支払い待ち) from the browser that owns it."""
    request = _owned_request(http_request, code, public_id)
    try:
        actions.withdraw_before_payment(request, channel=RequestChannel.WEB)
    except actions.ActionError as exc:
        messages.error(http_request, str(exc))
    else:
        messages.success(http_request, _("申請をやめました。料金はかかりません。"))
    return redirect("web:my_requests", code=code)
