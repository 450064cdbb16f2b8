from django.apps import AppConfig


class PaymentsSandboxConfig(AppConfig):
    name = "madoguchi.payments.contrib.sandbox"
    label = "payments_sandbox"
    verbose_name = "Payment sandbox gateway"
