"""Payment providers by name: `@register("sandbox")` on the class in `contrib/<name>/provider.py`."""

from madoguchi.core.plugins import Registry

from .base import PaymentProvider

register: Registry[PaymentProvider] = Registry("payment", "madoguchi.payments.contrib")
