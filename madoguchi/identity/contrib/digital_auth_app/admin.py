from django.contrib import admin

from .models import ClientConfiguration


@admin.register(ClientConfiguration)
class ClientConfigurationAdmin(admin.ModelAdmin):
    """Client id and redirect URI as registered with the Digital Agency; the key is in the environment."""

    list_display = ("municipality", "client_id", "redirect_uri", "active")
