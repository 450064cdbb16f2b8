"""Staff pages other apps contribute to the back office, discovered as django.contrib.admin
discovers `admin.py`.

An app contributes pages with an `office.py` module defining `register(pages)`. The back office
calls it at start-up (`BackofficeConfig.ready`) with an `AppPages` bound to the app, so the app never
imports the back office (a serving app must not import a channel):

    def register(pages):
        pages.add("mismatches/", mismatches, name="mismatches", permission="manage",
                  menu_label=gettext_lazy("決済の突合"))

The page is served at /office/<app label>/mismatches/ as `<app label>_office:mismatches`, behind the
back office's sign-in with both factors, the municipality check and the permission (`auth`); with
`access_log` each successful view is recorded in the access log under that action. A page with a
menu label appears in the back office's menu for the staff who hold its permission.

A contributed page reads and renders; a page that moves a request calls the workflow
(`applications.actions`) and therefore lives in the back office itself.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from importlib import import_module

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path, reverse
from django.utils.module_loading import module_has_submodule

from madoguchi.operations.audit import log_access

from .auth import PERMISSIONS, has_permission, staff_required

MODULE = "office"


@dataclass(frozen=True)
class StaffPage:
    app_label: str
    route: str
    view: Callable
    name: str
    permission: str
    menu_label: str | None = None
    access_log: str = ""

    @property
    def namespace(self) -> str:
        return f"{self.app_label}_office"

    @property
    def url_name(self) -> str:
        return f"{self.namespace}:{self.name}"


class PageRegistry:
    def __init__(self) -> None:
        self._pages: dict[tuple[str, str], StaffPage] = {}

    def add(self, page: StaffPage) -> None:
        if page.permission not in PERMISSIONS:
            raise ImproperlyConfigured(f"Staff page {page.url_name} asks for an unknown permission "
                                       f"{page.permission!r}.")
        if (page.app_label, page.name) in self._pages:
            raise ImproperlyConfigured(f"Two staff pages named {page.url_name}.")
        self._pages[page.app_label, page.name] = page

    def for_app(self, app_label: str) -> "AppPages":
        return AppPages(self, app_label)

    def pages(self) -> list[StaffPage]:
        return list(self._pages.values())

    def discover(self) -> None:
        """Hand each installed app's `office.register` this registry (an app without one is skipped;
        an error inside one is raised, not hidden)."""
        for app_config in apps.get_app_configs():
            if module_has_submodule(app_config.module, MODULE):
                import_module(f"{app_config.name}.{MODULE}").register(self.for_app(app_config.label))

    def urlpatterns(self) -> list:
        """One include per contributing app, under <app label>/ in the namespace <app label>_office."""
        by_app: dict[str, list] = {}
        for page in self._pages.values():
            by_app.setdefault(page.app_label, []).append(path(page.route, _guarded(page), name=page.name))
        return [path(f"{label}/", include((patterns, f"{label}_office"))) for label, patterns in by_app.items()]

    def menu(self, user) -> list[tuple[str, str]]:
        """(label, URL) of the contributed pages in the menu that `user` may open."""
        return [(str(page.menu_label), reverse(page.url_name)) for page in self._pages.values()
                if page.menu_label and has_permission(user, page.permission)]


@dataclass(frozen=True)
class AppPages:
    """What an app's `office.register` receives: adds that app's pages."""

    registry: PageRegistry
    app_label: str

    def add(self, route: str, view: Callable, *, name: str, permission: str = "review",
            menu_label: str | None = None, access_log: str = "") -> None:
        self.registry.add(StaffPage(self.app_label, route, view, name, permission, menu_label, access_log))


def _guarded(page: StaffPage) -> Callable:
    view = page.view
    if page.access_log:
        view = _logged(view, page.access_log)
    return staff_required(page.permission)(view)


def _logged(view: Callable, action: str) -> Callable:
    @wraps(view)
    def wrapped(http_request, *args, **kwargs):
        response = view(http_request, *args, **kwargs)
        if response.status_code < 400:
            log_access(http_request, action)
        return response

    return wrapped


site = PageRegistry()
