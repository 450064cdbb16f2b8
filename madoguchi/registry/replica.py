"""The replica's health for operators and managers: freshness, and the checks of `replica verify`."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Household, Koseki, KosekiMember, ReplicaState, Resident, SupportMeasure, UnmappedCharacter


@dataclass
class Freshness:
    state: ReplicaState | None
    stale: bool
    age: datetime.timedelta | None

    @property
    def message(self) -> str:
        if self.state is None or self.state.data_as_of is None:
            return _("副本はまだ取り込まれていません。")
        if self.stale:
            return _("副本が{hours}時間以上更新されていません(上限{limit}時間)。"
                     "基幹システムからの連携を確認してください。").format(
                hours=int(self.age.total_seconds() // 3600), limit=self.state.max_age_hours)
        return ""


def freshness(municipality, now: datetime.datetime | None = None) -> Freshness:
    """副本の更新日時 is the time the core system wrote the data; older than the municipality's
    limit raises the alarm (the service keeps issuing, but from data that may be out of date)."""
    state = ReplicaState.objects.filter(municipality=municipality).first()
    if state is None or state.data_as_of is None:
        return Freshness(state, True, None)
    age = (now or timezone.now()) - state.data_as_of
    return Freshness(state, age > datetime.timedelta(hours=state.max_age_hours), age)


def verify(municipality) -> list[tuple[str, int, str]]:
    """Consistency checks of a municipality's replica: (code, count, message) for each finding."""
    active = Resident.objects.for_municipality(municipality).filter(removal_reason="")
    findings = []
    headless = (Household.objects.for_municipality(municipality)
                .filter(Exists(active.filter(household=OuterRef("pk"))))
                .filter(Q(head__isnull=True) | ~Q(head__removal_reason="")).count())
    if headless:
        findings.append(("household_without_head", headless, _("世帯主のいない世帯があります。")))
    koseki_headless = (Koseki.objects.for_municipality(municipality)
                       .annotate(heads=Count("members", filter=Q(members__position=1))).filter(heads=0).count())
    if koseki_headless:
        findings.append(("koseki_without_head", koseki_headless, _("筆頭者(順位1)の記録がない戸籍があります。")))
    today = timezone.localdate()
    measures = SupportMeasure.objects.filter(resident=OuterRef("pk"), starts_on__lte=today).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    # Only once 支援措置 come through imports: before that the flag is all there is.
    if SupportMeasure.objects.for_municipality(municipality).exists():
        mismatched = (Resident.objects.for_municipality(municipality).annotate(active=Exists(measures))
                      .exclude(support_measure=F("active")).count())
        if mismatched:
            findings.append(("support_measure_flag", mismatched,
                             _("支援措置の表示と支援措置の記録が一致しない住民があります。")))
    unmapped = UnmappedCharacter.objects.for_municipality(municipality).values("vendor_code").distinct().count()
    if unmapped:
        findings.append(("unmapped_characters", unmapped, _("未登録の外字があります(該当者は発行停止中)。")))
    orphans = KosekiMember.objects.for_municipality(municipality).exclude(koseki__municipality=municipality).count()
    if orphans:
        findings.append(("koseki_member_other_municipality", orphans, _("他団体の戸籍を指す記録事項があります。")))
    return findings
