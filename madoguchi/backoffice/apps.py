from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "madoguchi.backoffice"

    def ready(self) -> None:
        from .pages import site

        site.discover()
