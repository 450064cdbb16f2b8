from django.contrib import admin

from .models import RevocationList, TrustAnchor


@admin.register(TrustAnchor)
class TrustAnchorAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "crl_url", "ocsp_url")
    fields = ("name", "active", "crl_url", "ocsp_url")


@admin.register(RevocationList)
class RevocationListAdmin(admin.ModelAdmin):
    """Read-only: CRLs come in through `manage.py jpki load-crl` or the refresh task, signature checked."""

    list_display = ("issuer", "number", "this_update", "next_update", "revoked_count", "loaded_at")
    fields = list_display + ("sha256",)
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
