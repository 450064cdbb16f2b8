"""Is a municipality ready to open its resident pages, and what needs the operator's attention?

The first-run checklist (`checklist`) is what a manager completes after onboarding: an approved
公印, the certifier, the fee table reviewed, the provider credentials entered by the operator, and
the replica loaded. The operator's overview (`overview`) adds the alarms of every municipality. Both
count rows and read settings; neither reads a resident's data (the operator never sees residents:
個人情報保護法 第66条, 安全管理措置 — the operator needs no personal data to run the service).
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.catalog.models import CatalogSettings
from madoguchi.documents.models import SealVersion
from madoguchi.identity.trust import stale_anchors
from madoguchi.notifications.models import Notice, NoticeStatus
from madoguchi.payments.models import ReconciliationMismatch
from madoguchi.registry.models import ReplicaState, Resident
from madoguchi.tenancy import credentials
from madoguchi.tenancy.models import Municipality


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    done: bool
    detail: str = ""


def replica_status(municipality: Municipality) -> tuple[int, datetime.datetime | None]:
    """(residents in the replica, 副本の更新日時: when the core system wrote the data last loaded)."""
    state = ReplicaState.objects.filter(municipality=municipality).first()
    return Resident.objects.for_municipality(municipality).count(), state.data_as_of if state else None


def checklist(municipality: Municipality) -> list[Item]:
    today = timezone.localdate()
    seal = (SealVersion.objects.for_municipality(municipality)
            .filter(approved_at__isnull=False, withdrawn_at__isnull=True, effective_from__lte=today).exists())
    pending = (SealVersion.objects.for_municipality(municipality)
               .filter(approved_at__isnull=True, withdrawn_at__isnull=True).exists())
    settings = CatalogSettings.objects.for_municipality(municipality).first()
    providers = credentials.status(municipality)
    missing = [name for status in providers for name, is_set in status.names if not is_set]
    residents, _loaded = replica_status(municipality)
    return [
        Item("seal", str(_("公印(承認済み)")), seal,
             str(_("承認待ちの公印があります。公印管理者の承認が必要です。")) if pending and not seal else ""),
        Item("certifier", str(_("認証者の職名と氏名")),
             bool(municipality.certifier_title.strip() and municipality.certifier_name.strip())),
        Item("fees", str(_("手数料の確認")), bool(settings and settings.fees_reviewed_at)),
        Item("providers", str(_("外部サービスの認証情報(運営事業者が登録)")), not missing,
             str(_("未登録: {names}")).format(names=", ".join(missing)) if missing else ""),
        Item("replica", str(_("住民記録(副本)の取込")), residents > 0,
             str(_("{n}人分")).format(n=residents) if residents else ""),
    ]


def is_ready(municipality: Municipality) -> bool:
    return all(item.done for item in checklist(municipality))


@dataclass
class Overview:
    municipality: Municipality
    checklist: list[Item]
    residents: int
    replica_loaded_at: datetime.datetime | None
    mismatches: int
    failed_notices: int
    alarms: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(item.done for item in self.checklist)


def overview() -> tuple[list[Overview], list[str]]:
    """One row per municipality, and the service-wide alarms (stale CRLs: signatures are refused
    while revocation data is stale, in every municipality)."""
    mismatches = dict(ReconciliationMismatch.objects.filter(repaired=False).values_list("municipality")
                      .annotate(n=Count("id")).order_by())
    failed = dict(Notice.objects.filter(status=NoticeStatus.FAILED).values_list("municipality")
                  .annotate(n=Count("id")).order_by())
    rows = []
    for municipality in Municipality.objects.order_by("code"):
        residents, loaded = replica_status(municipality)
        row = Overview(municipality, checklist(municipality), residents, loaded,
                       mismatches.get(municipality.pk, 0), failed.get(municipality.pk, 0))
        if row.mismatches:
            row.alarms.append(str(_("決済の突合で不一致 {n}件")).format(n=row.mismatches))
        if row.failed_notices:
            row.alarms.append(str(_("送信に失敗した通知 {n}件")).format(n=row.failed_notices))
        rows.append(row)
    service = [str(_("失効リスト(CRL)が古くなっています: {name}")).format(name=anchor) for anchor in stale_anchors()]
    return rows, service
