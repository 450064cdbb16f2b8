"""Staff: invite a clerk, manager or auditor with a one-time link, reset, change the role,
deactivate (their sessions end at once). The municipality always keeps an active manager."""

from django import forms
from django.contrib import messages
from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from madoguchi.tenancy import staffing
from madoguchi.tenancy.models import Role, Staff

from .common import ManageForm, _audit, manager_required


class InviteForm(ManageForm):
    username = forms.CharField(label=gettext_lazy("ユーザー名(半角英数字)"), max_length=40, validators=[
        RegexValidator(r"\A[a-z0-9][a-z0-9._-]{2,39}\Z", gettext_lazy("半角の英小文字・数字・. _ - で"
                                                                       "3〜40文字にしてください。"))])
    full_name = forms.CharField(label=gettext_lazy("氏名(姓と名の間に空白)"), max_length=60)
    email = forms.EmailField(label=gettext_lazy("メールアドレス(任意)"), required=False)
    role = forms.ChoiceField(label=gettext_lazy("役割"), choices=Role.choices)
    seal_custodian = forms.BooleanField(label=gettext_lazy("公印管理者(公印の承認ができる)"), required=False)


class RoleForm(ManageForm):
    role = forms.ChoiceField(label=gettext_lazy("役割"), choices=Role.choices)
    seal_custodian = forms.BooleanField(label=gettext_lazy("公印管理者"), required=False)


def _staff(http_request):
    return Staff.objects.filter(municipality=http_request.user.municipality).order_by("-is_active", "role", "username")


def _member(http_request, pk) -> Staff:
    return get_object_or_404(_staff(http_request), pk=pk)


def _link(http_request, token: str) -> str:
    return http_request.build_absolute_uri(reverse("backoffice:invitation", args=[token]))


def _page(http_request, *, form=None, link=None, status=200):
    return render(http_request, "backoffice/manage/staff.html", {
        "form": form or InviteForm(), "members": _staff(http_request), "roles": Role.choices, "link": link,
    }, status=status)


def _state(staff: Staff) -> dict:
    return {"role": staff.role, "seal_custodian": staff.seal_custodian, "is_active": staff.is_active,
            "enrolled": bool(staff.totp_secret)}


@manager_required
@require_GET
def staff_page(http_request):
    return _page(http_request)


@manager_required
@require_POST
def staff_invite(http_request):
    form = InviteForm(http_request.POST)
    if not form.is_valid():
        return _page(http_request, form=form, status=400)
    data = form.cleaned_data
    try:
        staff, token = staffing.invite(http_request.user.municipality, username=data["username"],
                                       full_name=data["full_name"], email=data["email"], role=data["role"],
                                       seal_custodian=data["seal_custodian"], by=http_request.user)
    except staffing.StaffError as exc:
        form.add_error(None, str(exc))
        return _page(http_request, form=form, status=400)
    _audit(http_request.user, "staff_changed", ("tenancy.staff", staff.pk, staff.username), None,
           {**_state(staff), "invited": True})
    messages.success(http_request, _("{name}さんを招待しました。"
                                     "下の招待リンクを本人に渡してください(一度だけ使えます)。").format(
        name=staff.get_full_name() or staff.username))
    return _page(http_request, link=(staff, _link(http_request, token)))


@manager_required
@require_POST
def staff_action(http_request, pk, action):
    staff = _member(http_request, pk)
    before = _state(staff)
    link = None
    try:
        if action == "deactivate":
            staffing.deactivate(staff)
            done = _("{name}さんを無効にしました。ログイン中の画面もすぐに使えなくなります。")
        elif action == "reset":
            link = (staff, _link(http_request, staffing.reset(staff, http_request.user)))
            done = _("{name}さんのパスワードと認証アプリを再設定します。下のリンクを本人に渡してください。")
        elif action == "reactivate":
            link = (staff, _link(http_request, staffing.reactivate(staff, http_request.user)))
            done = _("{name}さんを有効に戻しました。下のリンクでパスワードと認証アプリを設定してもらってください。")
        elif action == "role":
            form = RoleForm(http_request.POST)
            if not form.is_valid():
                messages.error(http_request, _("役割を選んでください。"))
                return _page(http_request, status=400)
            staffing.change_role(staff, role=form.cleaned_data["role"],
                                 seal_custodian=form.cleaned_data["seal_custodian"])
            done = _("{name}さんの役割を変更しました。")
        else:
            return _page(http_request, status=404)
    except staffing.StaffError as exc:
        messages.error(http_request, str(exc))
        return _page(http_request, status=409)
    staff.refresh_from_db()
    _audit(http_request.user, "staff_changed", ("tenancy.staff", staff.pk, staff.username), before,
           {**_state(staff), "action": action})
    messages.success(http_request, done.format(name=staff.get_full_name() or staff.username))
    if staff.pk == http_request.user.pk and action in {"deactivate", "reset", "role"}:
        # Their own session has just ended: the page still says what happened.
        return render(http_request, "backoffice/manage/signed_out.html", {"link": link})
    return _page(http_request, link=link)
