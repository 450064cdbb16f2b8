"""Django admin is for master data and the service operator, not for the clerk's daily work."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Municipality, Staff


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ("code", "prefecture", "name", "certifier_title", "certifier_name")
    search_fields = ("code", "name")


@admin.register(Staff)
class StaffAdmin(UserAdmin):
    list_display = ("username", "municipality", "role", "last_name", "first_name", "is_active")
    list_filter = ("municipality", "role", "is_active")
    # The TOTP secret is never shown or edited here: it is set once by `manage.py staff_totp`.
    fieldsets = (*UserAdmin.fieldsets, ("Madoguchi", {"fields": ("municipality", "role")}))
