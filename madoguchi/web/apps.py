from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "madoguchi.web"

    def ready(self) -> None:
        # The pages the e-mail notices link to (notifications never name a channel's URL).
        from madoguchi.notifications import links

        from .views import requests_link_url, requests_list_url, resident_link_url

        for kind in ("mailed", "undelivered", "completed", "returned"):
            links.register(kind, resident_link_url)
        links.register("requests_link", requests_link_url)
        links.register_requests_list(requests_list_url)
