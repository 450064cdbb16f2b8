from django.contrib import admin

from .models import Fee, FeeExemption, PostageClass


@admin.register(Fee)
class FeeAdmin(admin.ModelAdmin):
    list_display = ("municipality", "certificate_type", "channel", "amount", "valid_from", "valid_until",
                    "campaign_name")
    list_filter = ("municipality", "certificate_type", "channel")


@admin.register(PostageClass)
class PostageClassAdmin(admin.ModelAdmin):
    list_display = ("municipality", "code", "name", "amount")


@admin.register(FeeExemption)
class FeeExemptionAdmin(admin.ModelAdmin):
    list_display = ("municipality", "purpose", "certificate_type", "reason", "valid_from", "valid_until")
    list_filter = ("municipality",)
