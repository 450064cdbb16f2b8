from django.apps import AppConfig


class LineConfig(AppConfig):
    name = "madoguchi.line"
    label = "line"

    def ready(self) -> None:
        from madoguchi.notifications import channels

        from .notify import LINE_CHANNEL

        channels.register(LINE_CHANNEL)
