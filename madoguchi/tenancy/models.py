"""Municipalities (tenants) and the staff who work for them.

Every domain row in Madoguchi carries a `municipality` foreign key; `TenantQuerySet.for_municipality`
is the one way back-office code reads rows, so a clerk can only ever reach their own town's data.
"""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def municipality_code_check_digit(first_five: str) -> int:
    """Check digit of a 全国地方公共団体コード (総務省 rule: weights 6..2, modulus 11)."""
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    remainder = total % 11
    return (11 - remainder) % 10 if remainder else 0


def validate_municipality_code(value: str) -> None:
    if len(value) != 6 or not value.isdigit():
        raise ValidationError(_("地方公共団体コードは6桁の数字です。"))
    if municipality_code_check_digit(value[:5]) != int(value[5]):
        raise ValidationError(_("地方公共団体コードの検査数字が正しくありません。"))


class Municipality(models.Model):
    code = models.CharField(_("地方公共団体コード"), max_length=6, unique=True,
                            validators=[validate_municipality_code])
    name = models.CharField(_("団体名"), max_length=50)
    prefecture = models.CharField(_("都道府県"), max_length=10)
    certifier_title = models.CharField(_("認証者の職名"), max_length=50)
    certifier_name = models.CharField(_("認証者の氏名"), max_length=50)
    seal_png = models.BinaryField(_("公印画像(PNG)"), blank=True, default=b"")
    # Certificate layout: the line above the title (e.g. the issuing section) and where the seal
    # sits relative to the end of the certifier's name, as the municipality stamps it.
    document_header = models.CharField(_("証明書の見出し"), max_length=60, blank=True)
    seal_offset_x_mm = models.SmallIntegerField(_("公印の位置(右へmm)"), default=0)
    seal_offset_y_mm = models.SmallIntegerField(_("公印の位置(上へmm)"), default=0)
    contact = models.TextField(_("問い合わせ先"), blank=True)
    # Business calendar: national holidays and 12/29–1/3 always apply; these add local closures.
    closed_dates = models.JSONField(_("臨時休業日"), default=list, blank=True)
    processing_days = models.PositiveSmallIntegerField(_("発送までの標準日数(開庁日)"), default=2)
    # A mailed request is 完了 this many business days after mailing unless the resident confirms
    # receipt earlier.
    completion_days = models.PositiveSmallIntegerField(_("発送から完了までの日数(開庁日)"), default=7)

    class Meta:
        verbose_name = _("地方公共団体")
        verbose_name_plural = _("地方公共団体")

    def __str__(self) -> str:
        return f"{self.prefecture}{self.name}"

    @property
    def full_name(self) -> str:
        return f"{self.prefecture}{self.name}"


class TenantQuerySet(models.QuerySet):
    def for_municipality(self, municipality: Municipality) -> "TenantQuerySet":
        return self.filter(municipality=municipality)

    def sole(self):
        """The one row a lookup by a random token selects, before the municipality is known (a
        nonce or OAuth state in a callback URL). Such tokens are unique per municipality only
        (docs/scale.md): two matches are refused (None) rather than one picked."""
        rows = list(self[:2])
        return rows[0] if len(rows) == 1 else None


class TenantOneToOneField(models.OneToOneField):
    """A one-to-one link between two rows of one municipality.

    A plain OneToOneField puts UNIQUE on the link column alone; a table distributed by municipality
    can only enforce uniqueness together with `municipality` (docs/scale.md). This field keeps the
    one-to-one accessors and leaves the uniqueness to a `UniqueConstraint(fields=["municipality",
    <field>])` the model declares (tests/test_tenancy_rules.py checks that it does).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._unique = False


class Role(models.TextChoices):
    CLERK = "clerk", _("審査・発行担当")
    MANAGER = "manager", _("管理者")
    AUDITOR = "auditor", _("監査担当")


class Staff(AbstractUser):
    """A back-office user. Belongs to exactly one municipality (service operators have none
    and only use Django admin)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="staff")
    role = models.CharField(_("役割"), max_length=16, choices=Role.choices, default=Role.CLERK)
    totp_secret = models.CharField(_("TOTP秘密鍵"), max_length=64, blank=True)
    # The last accepted TOTP time step: a code is accepted once (RFC 6238 §5.2).
    totp_last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("職員")
        verbose_name_plural = _("職員")

    def can_review(self) -> bool:
        return self.municipality_id is not None and self.role in {Role.CLERK, Role.MANAGER}

    def can_read_logs(self) -> bool:
        return self.municipality_id is not None and self.role in {Role.AUDITOR, Role.MANAGER}


class DocumentSigningKey(models.Model):
    """The municipality's document-signing key (PAdES signatures on issued certificates).

    The private key is stored encrypted (PKCS#8 PEM) with a secret that comes from the environment
    (settings.DOCUMENT_SIGNING_SECRET); the database alone cannot sign. Retired keys stay so that
    documents signed before a rotation still verify.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="signing_keys")
    certificate_der = models.BinaryField()
    encrypted_key_pem = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], condition=models.Q(retired_at__isnull=True),
                                               name="one_active_signing_key")]


class MunicipalitySecret(models.Model):
    """One provider credential of one municipality (a PayPay API key, a GMO-PG shop password, a
    LINE channel secret), entered by the service operator with `manage.py secrets set`.

    Encrypted with AES-256-GCM under a master key from the environment (`tenancy.vault`); the
    municipality code and the name are the associated data, so a ciphertext copied to another row
    or another town does not decrypt. `key_id` names the master key, so keys can be rotated.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=40)
    ciphertext = models.BinaryField()  # 12-byte nonce followed by the GCM ciphertext and tag
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="secret_name_unique")]

    def __str__(self) -> str:
        return f"{self.municipality.code} {self.name}"
