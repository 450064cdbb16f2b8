"""System checks of the documents app: settings that would otherwise fail only when a certificate
is rendered."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def verification_qr_fits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """MADOGUCHI_SITE_URL must fit the verification QR code the footer has room for."""
    from .drawing import qr_symbol, qr_url

    try:
        qr_symbol(qr_url("0" * 16))
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="madoguchi.documents.E001")]
    return []
