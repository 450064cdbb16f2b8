"""Pages other apps contribute to the back office (`backoffice.pages`): discovered from each app's
office.py, guarded by the back office's sign-in and permissions, listed in its menu for the staff
who may open them, and logged when they show personal data. The "this browser owns this request"
check the resident pages share (`core.http`)."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.backoffice.pages import PageRegistry, site
from madoguchi.core.http import owns_request, remember_request
from madoguchi.operations.models import AccessLog
from madoguchi.tenancy.models import Role

from .flow import received
from .test_backoffice import PASSWORD, make_staff, signed_in

CONTRIBUTED = {
    "payments_office:mismatches": ("manage", "決済の突合", ""),
    "payments_office:simulation": ("manage", "収入シミュレーション", ""),
    "documents_office:batch_pdf": ("review", None, "download_print_batch"),
    "documents_office:batch_mailing_csv": ("review", None, "download_mailing_list"),
    "registry_office:imports": ("manage", "副本", ""),
}


def _view(http_request):
    raise AssertionError("not called")


def test_office_modules_are_discovered():
    pages = {p.url_name: (p.permission, p.menu_label and str(p.menu_label), p.access_log) for p in site.pages()}
    assert pages == CONTRIBUTED
    fresh = PageRegistry()
    fresh.discover()  # apps without an office.py are skipped
    assert [p.url_name for p in fresh.pages()] == [p.url_name for p in site.pages()]


def test_a_registry_refuses_unknown_permissions_and_duplicate_names():
    registry = PageRegistry()
    pages = registry.for_app("payments")
    pages.add("a/", _view, name="a")
    with pytest.raises(ImproperlyConfigured, match="Two staff pages"):
        pages.add("b/", _view, name="a")
    with pytest.raises(ImproperlyConfigured, match="unknown permission"):
        pages.add("c/", _view, name="c", permission="superuser")
    registry.for_app("documents").add("a/", _view, name="a")  # another app's namespace
    assert [p.url_name for p in registry.pages()] == ["payments_office:a", "documents_office:a"]


@pytest.mark.django_db(transaction=True)
def test_the_menu_lists_the_contributed_pages_each_role_may_open(municipality):
    manager = signed_in(make_staff(municipality, "manager", Role.MANAGER)).get(reverse("backoffice:queue"))
    assert reverse("payments_office:mismatches") in manager.content.decode()
    assert "収入シミュレーション" in manager.content.decode()
    for role in (Role.CLERK, Role.AUDITOR):
        client = signed_in(make_staff(municipality, role, role))
        page = client.get(reverse("backoffice:logs" if role == Role.AUDITOR else "backoffice:queue"))
        assert page.status_code == 200
        assert "決済の突合" not in page.content.decode() and "収入シミュレーション" not in page.content.decode()
        assert client.get(reverse("payments_office:simulation")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_contributed_pages_need_both_factors(municipality):
    staff = make_staff(municipality, "manager", Role.MANAGER)
    client = Client()
    client.post(reverse("backoffice:login"), {"username": staff.username, "password": PASSWORD})
    for name in ("payments_office:mismatches", "payments_office:simulation"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url == reverse("backoffice:login")
    response = Client().get(reverse("documents_office:batch_pdf", args=[1]))
    assert response.status_code == 302 and response.url == reverse("backoffice:login")


@pytest.mark.django_db(transaction=True)
def test_a_download_is_logged_only_when_it_is_served(municipality, other_municipality, resident):
    clerk = make_staff(municipality, "clerk")
    request = received(municipality, resident)
    actions.approve(request, clerk)
    batch = actions.record_printed([request], clerk)
    outsider = make_staff(other_municipality, "outsider")
    url = reverse("documents_office:batch_pdf", args=[batch.pk])
    assert signed_in(outsider).get(url).status_code == 404
    assert not AccessLog.objects.filter(staff=outsider).exists()
    response = signed_in(clerk).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert list(AccessLog.objects.filter(staff=clerk).values_list("action", flat=True)) == ["download_print_batch"]


def test_a_browser_owns_the_last_ten_requests_it_made():
    http_request = SimpleNamespace(session={})
    assert not owns_request(http_request, "a")
    for i in range(12):
        remember_request(http_request, f"id-{i}")
    assert not owns_request(http_request, "id-1")
    assert all(owns_request(http_request, f"id-{i}") for i in range(2, 12))
    assert not owns_request(SimpleNamespace(session={}), "id-11")
