"""Per-municipality client configuration and the short-lived state of one sign-in with the app."""

from django.db import models

from madoguchi.identity.models import SigningChallenge
from madoguchi.tenancy.models import Municipality, TenantQuerySet


class ClientConfiguration(models.Model):
    """What the Digital Agency registered for this municipality. The client's private key is not
    here: it comes from the environment (MADOGUCHI_DIGITAL_AUTH_APP_KEY_<client id>)."""

    municipality = models.OneToOneField(Municipality, on_delete=models.CASCADE,
                                        related_name="digital_auth_app")
    client_id = models.CharField(max_length=255)  # [0-9a-zA-Z]{1,255} per the API reference
    redirect_uri = models.URLField(max_length=255)
    active = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return self.client_id


class AuthorizationSession(models.Model):
    """One trip to the app and back: state, nonce and PKCE verifier, usable once."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    challenge = models.ForeignKey(SigningChallenge, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=64)
    nonce = models.CharField(max_length=64)
    code_verifier = models.CharField(max_length=128)
    sign_transaction_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "state"], name="authorization_state_unique")]
