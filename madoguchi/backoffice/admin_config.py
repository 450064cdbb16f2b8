"""The admin app with the operator-only site (a module of its own: it is loaded before any model)."""

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    default_site = "madoguchi.backoffice.admin_site.OperatorAdminSite"
