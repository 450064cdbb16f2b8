from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "madoguchi.documents"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
