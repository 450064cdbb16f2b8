from django.apps import AppConfig


class LineConfig(AppConfig):
    name = "madoguchi.line"
    label = "line"

    def ready(self) -> None:
        from madoguchi.notifications import transports

        from .notify import LINE_TRANSPORT

        transports.register(LINE_TRANSPORT)
