from django.apps import AppConfig


class DemoConfig(AppConfig):
    """seed_demo and the synthetic replica generator. Installed only with DEBUG, in tests or with
    MADOGUCHI_DEMO=1 (settings.DEMO_ENABLED); no other app imports it."""

    name = "madoguchi.demo"
