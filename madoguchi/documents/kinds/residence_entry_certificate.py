"""住民票記載事項証明書: the items of the 住民票の写し, certified as recorded rather than as a copy."""

from madoguchi.catalog.models import CertificateType

from . import register
from .residence_certificate import ResidenceCertificate


@register
class ResidenceEntryCertificate(ResidenceCertificate):
    code = CertificateType.RESIDENCE_ENTRY
    title = "住民票記載事項証明書"
    attestation = "上記の事項は、住民票に記載されていることを証明する。"
