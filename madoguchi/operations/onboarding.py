"""Onboarding a municipality: the tenant row with the standard fee table and postage classes.

Fees are those most municipalities set by 条例 (住民票 300円, 戸籍 450円, …); a manager changes
them afterwards. Postage follows Japan Post's rates from 2024-10-01 (定形 25g 110円; 速達 +300円;
簡易書留 +350円). The municipality's document-signing key is created here too (docs/documents.md).
"""

from django.db import transaction

from madoguchi.catalog.models import CertificateType, Fee, FeeChannel, PostageClass
from madoguchi.documents.signing import ensure_signing_key
from madoguchi.tenancy.models import Municipality

STANDARD_FEES = {
    # type: (counter, mail, convenience store or None, online)
    CertificateType.RESIDENCE: (300, 300, 200, 300),
    CertificateType.RESIDENCE_ENTRY: (300, 300, None, 300),
    CertificateType.SEAL: (300, 300, 200, 300),
    CertificateType.KOSEKI_FULL: (450, 450, 450, 450),
    CertificateType.KOSEKI_INDIVIDUAL: (450, 450, 450, 450),
    CertificateType.KOSEKI_FUHYO: (300, 300, 300, 300),
    CertificateType.TAX: (300, 300, 200, 300),
}
CHANNEL_ORDER = (FeeChannel.COUNTER, FeeChannel.MAIL, FeeChannel.CONVENIENCE_STORE, FeeChannel.ONLINE)
POSTAGE = [("regular", "普通郵便", 110), ("express", "速達", 410), ("registered", "簡易書留", 460)]


@transaction.atomic
def create_municipality(*, code: str, name: str, prefecture: str, certifier_name: str, contact: str,
                        certifier_title: str = "", launched: bool = True) -> Municipality:
    """`launched=False` keeps the resident pages closed until a manager completes the first-run
    checklist (manage.py onboard_municipality); the demo and tests open them at once."""
    municipality = Municipality(code=code, name=name, prefecture=prefecture, certifier_name=certifier_name,
                                certifier_title=certifier_title or f"{prefecture}{name}長", contact=contact,
                                launched=launched)
    municipality.full_clean()
    municipality.save()
    Fee.objects.bulk_create(
        Fee(municipality=municipality, certificate_type=certificate_type, channel=channel, amount=amount)
        for certificate_type, amounts in STANDARD_FEES.items()
        for channel, amount in zip(CHANNEL_ORDER, amounts, strict=True) if amount is not None)
    PostageClass.objects.bulk_create(PostageClass(municipality=municipality, code=code_, name=label, amount=amount)
                                     for code_, label, amount in POSTAGE)
    ensure_signing_key(municipality)
    return municipality
