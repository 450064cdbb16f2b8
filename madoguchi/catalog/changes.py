"""The manager's changes to the catalog: standing fees, campaigns, 条例 exemptions and what is
offered. Each function checks the rule, writes, and returns what changed (before, after) for the
audit trail; a rule broken raises CatalogChangeError with the manager's message in Japanese.

Periods in the past are read-only: requests were quoted and charged with them, and the revenue
statistics and the disclosure history read them back (地方自治法 第228条: fees are fixed by 条例, so
what was charged must stay explainable).
"""

import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from madoguchi.tenancy.models import Municipality

from .models import CatalogSettings, Fee, FeeExemption
from .services import PURPOSES

MAX_FEE = 100_000  # yen; no certificate fee comes near it, so a larger figure is a typing error


class CatalogChangeError(ValueError):
    pass


class StaleVersion(CatalogChangeError):
    """Someone saved the catalog after this form was read."""


def check_amount(amount: int) -> int:
    if not 0 <= amount <= MAX_FEE:
        raise CatalogChangeError(_("金額は0円から{max:,}円までで入力してください。").format(max=MAX_FEE))
    return amount


@transaction.atomic
def lock_settings(municipality: Municipality, expected_version: int | None) -> CatalogSettings:
    """The municipality's catalog settings row, locked for this transaction and its version
    advanced; a form read at another version is refused (StaleVersion)."""
    CatalogSettings.objects.get_or_create(municipality=municipality)
    settings = CatalogSettings.objects.select_for_update().get(municipality=municipality)
    if expected_version is not None and settings.version != expected_version:
        raise StaleVersion(_("この画面を開いた後に、ほかの人が設定を変更しました。最新の内容を確認してください。"))
    CatalogSettings.objects.filter(pk=settings.pk).update(version=F("version") + 1)
    settings.refresh_from_db()
    return settings


def standing_fee(municipality: Municipality, certificate_type: str, channel: str, on: datetime.date) -> Fee | None:
    return (Fee.objects.for_municipality(municipality)
            .filter(certificate_type=certificate_type, channel=channel, campaign_name="", valid_from__lte=on)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
            .order_by("-valid_from", "-id").first())


@transaction.atomic
def set_standing_fees(municipality: Municipality, amounts: dict[tuple[str, str], int], effective_from: datetime.date,
                      today: datetime.date, expected_version: int | None) -> list[dict]:
    """New standing fees from `effective_from` (today or later); the current row ends the day before."""
    if effective_from < today:
        raise CatalogChangeError(_("過去の日付からは変更できません。適用日は今日以降にしてください。"))
    settings = lock_settings(municipality, expected_version)
    changes = []
    for (certificate_type, channel), amount in amounts.items():
        check_amount(amount)
        current = standing_fee(municipality, certificate_type, channel, effective_from)
        if current is not None and current.amount == amount:
            continue
        standing = Fee.objects.for_municipality(municipality).filter(
            certificate_type=certificate_type, channel=channel, campaign_name="")
        standing.filter(valid_from__gte=effective_from).delete()  # superseded future rows only (≥ today)
        if current is not None and current.valid_from < effective_from:
            Fee.objects.filter(pk=current.pk).update(valid_until=effective_from - datetime.timedelta(days=1))
        Fee.objects.create(municipality=municipality, certificate_type=certificate_type, channel=channel,
                           amount=amount, valid_from=effective_from)
        changes.append({"certificate_type": certificate_type, "channel": channel, "from": effective_from.isoformat(),
                        "before": current.amount if current else None, "after": amount})
    settings.fees_reviewed_at = datetime.datetime.now(datetime.UTC)
    settings.save(update_fields=["fees_reviewed_at"])
    return changes


def campaigns(municipality: Municipality):
    return (Fee.objects.for_municipality(municipality).exclude(campaign_name="")
            .order_by("-valid_from", "certificate_type", "channel", "id"))


def campaign_fields(fee: Fee) -> dict:
    return {"campaign_name": fee.campaign_name, "certificate_type": fee.certificate_type, "channel": fee.channel,
            "valid_from": fee.valid_from.isoformat(), "valid_until": fee.valid_until.isoformat(),
            "amount": fee.amount}


@transaction.atomic
def save_campaign(municipality: Municipality, campaign: Fee | None, *, campaign_name: str, certificate_type: str,
                  channel: str, valid_from: datetime.date, valid_until: datetime.date, amount: int,
                  today: datetime.date, expected_version: int | None) -> tuple[Fee, dict | None, dict]:
    """Create or change a campaign. A campaign cannot overlap another for the same kind and fee
    channel (which one would the resident be charged?); what already happened cannot change."""
    check_amount(amount)
    if not campaign_name.strip():
        raise CatalogChangeError(_("キャンペーン名を入力してください。"))
    if valid_until < valid_from:
        raise CatalogChangeError(_("終了日が開始日より前になっています。"))
    lock_settings(municipality, expected_version)
    before = None
    if campaign is not None:
        campaign = Fee.objects.select_for_update().get(pk=campaign.pk, municipality=municipality)
        before = campaign_fields(campaign)
        if campaign.valid_until < today:
            raise CatalogChangeError(_("終了したキャンペーンは変更できません。"))
        if campaign.valid_from <= today and (
                valid_from != campaign.valid_from or amount != campaign.amount
                or certificate_type != campaign.certificate_type or channel != campaign.channel):
            raise CatalogChangeError(_("開始済みのキャンペーンは、終了日とキャンペーン名だけ変更できます。"))
        if valid_until < today - datetime.timedelta(days=1) and valid_until != campaign.valid_until:
            raise CatalogChangeError(_("終了日を過去の日付にはできません。"))
    elif valid_from < today:
        raise CatalogChangeError(_("過去の日付から始まるキャンペーンは登録できません。"))
    overlapping = (campaigns(municipality).filter(certificate_type=certificate_type, channel=channel,
                                                  valid_from__lte=valid_until, valid_until__gte=valid_from)
                   .exclude(pk=campaign.pk if campaign else None))
    clash = overlapping.first()
    if clash is not None:
        raise CatalogChangeError(_("同じ証明書・手数料区分の「{name}」({start}〜{end})と期間が重なっています。").format(
            name=clash.campaign_name, start=clash.valid_from, end=clash.valid_until))
    if campaign is None:
        campaign = Fee(municipality=municipality)
    campaign.campaign_name = campaign_name.strip()
    campaign.certificate_type, campaign.channel = certificate_type, channel
    campaign.valid_from, campaign.valid_until, campaign.amount = valid_from, valid_until, amount
    campaign.save()
    return campaign, before, campaign_fields(campaign)


@transaction.atomic
def delete_campaign(municipality: Municipality, campaign: Fee, today: datetime.date,
                    expected_version: int | None) -> dict:
    lock_settings(municipality, expected_version)
    if campaign.valid_from <= today:
        raise CatalogChangeError(_("開始済みのキャンペーンは削除できません。終了日を変更してください。"))
    before = campaign_fields(campaign)
    campaign.delete()
    return before


def exemptions(municipality: Municipality):
    return FeeExemption.objects.for_municipality(municipality).order_by("-valid_from", "purpose", "id")


@transaction.atomic
def add_exemption(municipality: Municipality, *, purpose: str, certificate_type: str, reason: str,
                  valid_from: datetime.date, valid_until: datetime.date | None, today: datetime.date,
                  expected_version: int | None) -> FeeExemption:
    if purpose not in dict(PURPOSES) or purpose == "other":
        raise CatalogChangeError(_("使いみちを選んでください。"))
    if not reason.strip():
        raise CatalogChangeError(_("免除の根拠(条例の条項)を入力してください。"))
    if valid_from < today:
        raise CatalogChangeError(_("過去の日付からは登録できません。"))
    if valid_until is not None and valid_until < valid_from:
        raise CatalogChangeError(_("終了日が開始日より前になっています。"))
    lock_settings(municipality, expected_version)
    return FeeExemption.objects.create(municipality=municipality, purpose=purpose, certificate_type=certificate_type,
                                       reason=reason.strip(), valid_from=valid_from, valid_until=valid_until)


@transaction.atomic
def end_exemption(municipality: Municipality, exemption: FeeExemption, today: datetime.date,
                  expected_version: int | None) -> dict:
    """A future exemption is removed; one already applied ends yesterday (its past stays)."""
    lock_settings(municipality, expected_version)
    before = {"purpose": exemption.purpose, "reason": exemption.reason, "valid_from": exemption.valid_from.isoformat(),
              "valid_until": exemption.valid_until.isoformat() if exemption.valid_until else None}
    if exemption.valid_until is not None and exemption.valid_until < today:
        raise CatalogChangeError(_("終了した免除は変更できません。"))
    if exemption.valid_from >= today:
        exemption.delete()
    else:
        exemption.valid_until = today - datetime.timedelta(days=1)
        exemption.save(update_fields=["valid_until"])
    return before


@transaction.atomic
def set_offering(municipality: Municipality, *, certificate_types: list[str], purposes: list[str],
                 request_channels: list[str], postage_codes: list[str],
                 expected_version: int | None) -> tuple[dict, dict]:
    if not certificate_types or not purposes or not postage_codes:
        raise CatalogChangeError(_("証明書・使いみち・郵送方法はそれぞれ1つ以上選んでください。"))
    settings = lock_settings(municipality, expected_version)
    postage = municipality.postage_classes.all()
    before = {"certificate_types": settings.certificate_types, "purposes": settings.purposes,
              "request_channels": settings.request_channels,
              "postage": sorted(p.code for p in postage if p.offered)}
    settings.certificate_types, settings.purposes = certificate_types, purposes
    settings.request_channels = request_channels
    settings.save(update_fields=["certificate_types", "purposes", "request_channels"])
    postage.filter(code__in=postage_codes).update(offered=True)
    postage.exclude(code__in=postage_codes).update(offered=False)
    after = {"certificate_types": certificate_types, "purposes": purposes, "request_channels": request_channels,
             "postage": sorted(postage_codes)}
    return before, after
