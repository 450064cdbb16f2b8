from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "madoguchi.core"
    label = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
