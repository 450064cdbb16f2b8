"""Who may have a certificate issued, as data, and the protections of the people on it.

Each kind module declares `entitlement`: rows of (relation of the requester to the people on the
certificate, outcome, reason code, legal basis). `assess` finds the relation (registry.relations),
applies the kind's rows, then the protections every kind shares: 支援措置 of anyone the certificate
shows, the 相手方 (加害者) asking, 発行停止 (registry.protection). The result is a list of `Finding`s;
none means the request may be issued without a person deciding.
"""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.registry import protection, relations
from madoguchi.registry.models import Resident
from madoguchi.registry.relations import Relation
from madoguchi.registry.restrictions import OUTCOME_ORDER, Outcome, ReasonCode, ThirdPartyPolicy, policy_for

ALLOWED = "allowed"


@dataclass(frozen=True)
class Rule:
    """One row of a kind's entitlement table. `outcome` is ALLOWED, an `Outcome`, or the name of a
    `ProtectionPolicy` field whose value (refuse / review) decides."""

    relation: str
    outcome: str
    basis: str
    code: str = ""


@dataclass(frozen=True)
class Finding:
    code: str  # ReasonCode
    outcome: str  # Outcome
    basis: str
    # For the clerk (may name the protection); the resident only ever reads `resident_message`.
    detail: str = ""

    def as_json(self) -> dict:
        return {"code": self.code, "outcome": self.outcome, "basis": self.basis, "detail": self.detail}


def worst(findings: list[Finding]) -> str | None:
    return max((f.outcome for f in findings), key=OUTCOME_ORDER.__getitem__, default=None)


# What the resident reads. A 支援措置 or a 発行停止 is never revealed (住民基本台帳事務処理要領 第5-10:
# the protected person's existence and address must not leak through the answer).
_NOT_ONLINE = gettext_lazy("このご請求はオンラインではお受けできません。本人確認書類と、請求の理由を明らかにする資料"
                "(疎明資料)をお持ちのうえ、{where}でご請求ください。")


def resident_message(finding: Finding, where: str) -> str:
    messages = {
        ReasonCode.SEAL_NOT_REGISTERED: _("印鑑登録がないため、印鑑登録証明書を発行できません。印鑑登録は{where}で"
                                          "お手続きください。"),
        ReasonCode.TAX_RECORD_MISSING: _("ご指定の年度の課税情報がないため、証明書を発行できません。その年の1月1日に"
                                         "お住まいだった市区町村でご請求ください。"),
        ReasonCode.KOSEKI_NOT_FOUND: _("入力された本籍と筆頭者の戸籍が見つかりません。本籍と筆頭者の氏名を"
                                       "確かめて、もう一度お申し込みください。"),
        ReasonCode.SUBJECT_NOT_FOUND: _("証明が必要な方が住民記録に見つかりません。氏名と生年月日を確かめて、"
                                        "もう一度お申し込みください。"),
        ReasonCode.OUTSIDE_HOURS: _("この証明書は、現在の時間帯にはお申し込みいただけません。受付時間内に"
                                    "もう一度お申し込みください。"),
    }
    return str(messages.get(finding.code, _NOT_ONLINE)).format(where=where)


def _rule_outcome(rule: Rule, request: CertificateRequest) -> str:
    if rule.outcome == ALLOWED or rule.outcome in Outcome.values:
        return rule.outcome
    value = getattr(policy_for(request.municipality), rule.outcome)
    return Outcome.REFUSE if value == ThirdPartyPolicy.REFUSE else Outcome.REVIEW


def entitlement_findings(rules: tuple[Rule, ...], relation: str, request: CertificateRequest) -> list[Finding]:
    """The row for `relation`; a relation no row names is refused (the third-party path is the
    counter's, with 疎明資料)."""
    for rule in rules:
        if rule.relation == relation:
            outcome = _rule_outcome(rule, request)
            if outcome == ALLOWED:
                return []
            return [Finding(rule.code or ReasonCode.NOT_ENTITLED, outcome, rule.basis,
                            _("請求者と記載される人の関係: {relation}").format(relation=RELATION_LABELS[relation]))]
    fallback = next((r for r in rules if r.relation == Relation.NONE), None)
    return [Finding(ReasonCode.NOT_ENTITLED, Outcome.REFUSE, fallback.basis if fallback else "",
                    _("請求者と記載される人の関係: {relation}").format(relation=RELATION_LABELS[relation]))]


RELATION_LABELS = {
    Relation.SELF: "本人", Relation.HOUSEHOLD: "同一世帯", Relation.RECORDED: "戸籍に記録されている者(除籍者を含む)",
    Relation.SPOUSE: "配偶者", Relation.LINEAL: "直系尊属・直系卑属", Relation.UNPROVEN: "副本で確認できない続柄",
    Relation.NONE: "請求できる関係なし",
}

SUPPORT_BASIS = "住民基本台帳事務処理要領 第5-10・第6-10; 住民基本台帳法 第12条第6項・第20条第5項; 戸籍法 第10条第2項"
STOP_BASIS = "住民基本台帳法 第12条第6項; 戸籍法 第10条第2項 (不当な目的の請求の拒否)"


def protection_findings(requester: Resident, shown: list[Resident], *, self_policy_applies: bool,
                        request: CertificateRequest, today: datetime.date) -> list[Finding]:
    """支援措置 and 発行停止 for the people the certificate shows, and for the requester's household
    (a certificate of the requester shows their address, which is the household's)."""
    findings: list[Finding] = []
    household = relations.household_of(requester)
    shown_ids = {r.pk for r in shown}
    seen = {r.pk: r for r in [*shown, *household]}
    for guard in protection.protections(list(seen.values()), today):
        person = guard.resident
        if person.pk != requester.pk and protection.is_perpetrator(requester, guard):
            findings.append(Finding(ReasonCode.SUPPORT_MEASURE_OFFENDER, Outcome.REFUSE, SUPPORT_BASIS,
                                    _("請求者は支援措置の相手方として登録されています。")))
        elif person.pk == requester.pk and self_policy_applies:
            value = policy_for(request.municipality).protected_self_request
            findings.append(Finding(ReasonCode.SUPPORT_MEASURE_SELF,
                                    Outcome.REFUSE if value == ThirdPartyPolicy.REFUSE else Outcome.REVIEW,
                                    SUPPORT_BASIS,
                                    _("支援措置対象者本人からの請求です。厳格な本人確認をしてください。")))
        elif person.pk != requester.pk and person.pk in shown_ids:
            findings.append(Finding(ReasonCode.SUPPORT_MEASURE_SUBJECT, Outcome.HOLD, SUPPORT_BASIS,
                                    _("記載される人に支援措置対象者がいます。相手方やその関係者からの請求でないか、"
                                      "請求の理由を確認し、管理者の解除を受けてください。")))
    if protection.active_stops([requester, *shown], today):
        findings.append(Finding(ReasonCode.ISSUANCE_STOPPED, Outcome.REFUSE, STOP_BASIS,
                                _("記載される人(または請求者)に発行停止が設定されています。")))
    return findings
