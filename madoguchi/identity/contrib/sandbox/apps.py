from django.apps import AppConfig


class IdentitySandboxConfig(AppConfig):
    name = "madoguchi.identity.contrib.sandbox"
    label = "identity_sandbox"
    verbose_name = "JPKI sandbox"
