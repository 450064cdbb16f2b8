from django.contrib import admin

from .models import TrustAnchor


@admin.register(TrustAnchor)
class TrustAnchorAdmin(admin.ModelAdmin):
    list_display = ("name", "active")
    fields = ("name", "active")
