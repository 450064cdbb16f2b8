from django.apps import AppConfig


class DigitalAuthAppConfig(AppConfig):
    name = "madoguchi.identity.contrib.digital_auth_app"
    label = "identity_digital_auth_app"
    verbose_name = "デジタル認証アプリ"
