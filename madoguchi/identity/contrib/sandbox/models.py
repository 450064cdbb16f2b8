"""A development JPKI: a signing CA of its own and virtual My Number Cards.

The card's private key lives here only because the card is virtual; in production the key never
leaves the resident's card and we only ever see certificates and signatures.
"""

from django.db import models

from madoguchi.registry.models import Resident


class SandboxAuthority(models.Model):
    """One CA per JPKI certificate: signing, and user authentication (`jpki.CertificatePurpose`)."""

    purpose = models.CharField(max_length=16, default="signing")
    certificate_pem = models.TextField()
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class SandboxCard(models.Model):
    resident = models.OneToOneField(Resident, on_delete=models.CASCADE, related_name="sandbox_card")
    # What the demo tells a tester to type: the resident's 宛名番号 stands in for the card. Unique
    # only within a municipality, as 宛名番号 are; `card.find_card` looks it up within the town.
    card_code = models.CharField(max_length=32, db_index=True)
    private_key_pem = models.TextField()
    certificate_der = models.BinaryField()
    pin_salt = models.CharField(max_length=32)
    pin_hash = models.CharField(max_length=64)
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0)
    locked = models.BooleanField(default=False)
    # The 利用者証明用電子証明書 beside it: its own key, certificate and 4-digit PIN (issued on first use).
    auth_private_key_pem = models.TextField(blank=True)
    auth_certificate_der = models.BinaryField(null=True, blank=True)
    auth_pin_salt = models.CharField(max_length=32, blank=True)
    auth_pin_hash = models.CharField(max_length=64, blank=True)
    auth_failed_pin_attempts = models.PositiveSmallIntegerField(default=0)
    auth_locked = models.BooleanField(default=False)
