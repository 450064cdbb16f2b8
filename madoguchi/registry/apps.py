from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "madoguchi.registry"

    def ready(self):
        # Import formats register themselves when their module is imported.
        from .imports.contrib.mapped import format as _mapped  # noqa: F401
        from .imports.contrib.standard import format as _standard  # noqa: F401
