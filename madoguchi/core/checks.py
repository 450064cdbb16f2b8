"""System checks run by every management command (migrate, seed_demo, runserver, check): a missing
piece of the machine stops them with one line that says what to install, not a traceback later."""

from pathlib import Path

from django.conf import settings
from django.core import checks

FONT_PACKAGE = "fonts-ipamj-mincho"
# The first four bytes of a TrueType / OpenType font file or collection.
FONT_SIGNATURES = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"ttcf")


@checks.register()
def certificate_font(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """settings.CERTIFICATE_FONT (IPAmj明朝) must be a readable font file: certificates, seal images and
    the LINE rich menu are drawn with it."""
    path = Path(settings.CERTIFICATE_FONT)
    try:
        with path.open("rb") as font:
            signature = font.read(4)
    except OSError:
        problem = "is missing"
    else:
        if signature in FONT_SIGNATURES:
            return []
        problem = "is not a TrueType/OpenType font"
    return [checks.Error(
        f"The certificate font {path} {problem}: install the Debian package {FONT_PACKAGE} "
        "(make demo and make test do it as root), or point MADOGUCHI_CERTIFICATE_FONT at the font file.",
        id="madoguchi.E001")]


@checks.register(checks.Tags.security, deploy=True)
def master_keys_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Secrets at rest (staff TOTP secrets, per-municipality secrets, backups) need the master keys."""
    from . import crypto

    if crypto.configured():
        return []
    return [checks.Error("MADOGUCHI_MASTER_KEYS is not set: secrets at rest cannot be read or written.",
                         hint="Set MADOGUCHI_MASTER_KEYS='id=<base64 of 32 random bytes>' (docs/operations.md).",
                         id="madoguchi.E002")]


@checks.register(checks.Tags.security)
def networks_parse(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The trusted proxies and the back office's networks must be lists of networks."""
    from .http import parse_networks

    errors = []
    for name in ("TRUSTED_PROXIES", "BACKOFFICE_NETWORKS"):
        try:
            parse_networks(getattr(settings, name))
        except ValueError as exc:
            errors.append(checks.Error(f"{name} is not a list of networks: {exc}", id="madoguchi.E003"))
    return errors
