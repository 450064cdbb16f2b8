from django.contrib import admin

from .models import LineAccount


@admin.register(LineAccount)
class LineChannelAdmin(admin.ModelAdmin):
    """Service operators register a municipality's channels here; secrets stay in the environment."""

    list_display = ["municipality", "channel_id", "login_channel_id", "liff_id", "active"]
    list_filter = ["active"]
