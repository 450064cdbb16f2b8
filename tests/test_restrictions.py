"""Issue 12: entitlement per kind, 支援措置 of the people on the certificate, 発行停止, service windows,
re-checks at approval and printing, eligibility before paying, 本人通知 — with the attacks of the issue."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core import mail
from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, RequestEvent, State
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.catalog.models import CertificateType
from madoguchi.identity import trust
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.contrib.sandbox.models import SandboxAuthority
from madoguchi.identity.models import SigningChallenge
from madoguchi.notifications.models import Notice
from madoguchi.operations.models import AuditEvent, DailyStat
from madoguchi.registry.matching import koseki_lookup_key
from madoguchi.registry.models import Koseki, KosekiMember, SealRegistration, TaxRecord
from madoguchi.registry.relations import Relation, relation_to_koseki, relation_to_resident
from madoguchi.registry.restrictions import (
    IssuanceStopOrder,
    ProtectionPolicy,
    ServiceWindow,
    SupportMeasureRecord,
)
from madoguchi.tenancy.models import Role

from .boundary import answered
from .conftest import make_resident
from .flow import draft, pay, received, sign
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

D = datetime.date


def koseki(municipality, honseki, head, members):
    k = Koseki.objects.create(municipality=municipality, honseki=honseki, head_name=head,
                              lookup_key=koseki_lookup_key(honseki, head), events=[])
    for position, (resident_or_name, fields) in enumerate(members, start=1):
        resident = None if isinstance(resident_or_name, str) else resident_or_name
        KosekiMember.objects.create(
            municipality=municipality, koseki=k, position=position, resident=resident,
            name=resident.name if resident else resident_or_name,
            date_of_birth=fields.pop("born", resident.date_of_birth if resident else D(1950, 1, 1)),
            sex=fields.pop("sex", resident.sex if resident else "1"), relationship=fields.pop("rel", "長男"),
            **fields)
    return k


def married(name):
    return [{"kind": "婚姻", "date": "2000-01-01", "details": [["配偶者氏名", name]]}]


@pytest.fixture
def family(municipality):
    """甲野 太郎 and 花子 (K1, their sons 一郎 and 次郎 removed by marriage); 一郎's family (K2, 春子,
    夏子); 次郎 alone (K3); a stranger 乙山 三郎."""
    taro = make_resident(municipality, "甲野 太郎", date_of_birth=D(1950, 5, 1), sex="1")
    hanako = make_resident(municipality, "甲野 花子", household=taro.household, relationship="妻",
                           date_of_birth=D(1952, 6, 1))
    ichiro = make_resident(municipality, "甲野 一郎", date_of_birth=D(1975, 7, 1), sex="1",
                           address="東京都窓口市東町一丁目1番1号")
    haruko = make_resident(municipality, "甲野 春子", household=ichiro.household, relationship="妻",
                           date_of_birth=D(1977, 8, 1))
    natsuko = make_resident(municipality, "甲野 夏子", household=ichiro.household, relationship="子",
                            date_of_birth=D(2004, 9, 1))
    jiro = make_resident(municipality, "甲野 次郎", date_of_birth=D(1978, 10, 1), sex="1",
                         address="東京都窓口市西町二丁目2番2号")
    stranger = make_resident(municipality, "乙山 三郎", date_of_birth=D(1970, 11, 1), sex="1",
                             address="東京都窓口市南町三丁目3番3号")
    parents = dict(father="甲野 太郎", mother="甲野 花子")
    k1 = koseki(municipality, "東京都窓口市本町一丁目2番地", "甲野 太郎", [
        (taro, {"rel": "長男", "events": married("甲野 花子")}),
        (hanako, {"rel": "長女", "events": married("甲野 太郎")}),
        (ichiro, {"rel": "長男", "removed": True, **parents}),
        (jiro, {"rel": "二男", "removed": True, **parents})])
    k2 = koseki(municipality, "東京都窓口市東町一丁目1番地", "甲野 一郎", [
        (ichiro, {"rel": "長男", "events": married("甲野 春子"), **parents}),
        (haruko, {"rel": "長女", "events": married("甲野 一郎"), "father": "丙川 五郎"}),
        (natsuko, {"rel": "長女", "father": "甲野 一郎", "mother": "甲野 春子"})])
    k3 = koseki(municipality, "東京都窓口市西町二丁目2番地", "甲野 次郎", [(jiro, {"rel": "二男", **parents})])
    return dict(taro=taro, hanako=hanako, ichiro=ichiro, haruko=haruko, natsuko=natsuko, jiro=jiro,
                stranger=stranger, k1=k1, k2=k2, k3=k3)


def koseki_options(k):
    return {"honseki": k.honseki, "koseki_head": k.head_name}


def other_options(subject):
    return {"scope": "other", "members": "", "subject_name": subject.name,
            "subject_birth_date": subject.date_of_birth.isoformat(), "show_relationship": False,
            "show_honseki": False}


def refused_at_signing(municipality, requester, **terms) -> CertificateRequest:
    request = draft(municipality, **terms)
    with pytest.raises(actions.SignatureRejected):
        sign(request, requester)
    request.refresh_from_db()
    assert request.state == State.CANCELLED and not request.payments.exists()
    return request


def codes_of(request, kind="refused"):
    return request.events.get(kind=kind).data["codes"]


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", role=Role.MANAGER)


# --- relations from the replica ------------------------------------------------------------------


def test_relations_follow_the_register(family):
    f = family
    assert relation_to_koseki(f["ichiro"], f["k1"]) == Relation.RECORDED  # 除籍者 (第10条第1項 括弧書き)
    assert relation_to_koseki(f["natsuko"], f["k1"]) == Relation.LINEAL  # grandparents, through 一郎's link
    assert relation_to_koseki(f["taro"], f["k2"]) == Relation.LINEAL  # the son's 戸籍
    assert relation_to_koseki(f["haruko"], f["k2"]) == Relation.RECORDED
    assert relation_to_koseki(f["haruko"], f["k1"]) == Relation.NONE  # the in-laws' 戸籍
    assert relation_to_koseki(f["jiro"], f["k2"]) == Relation.NONE  # 兄弟: 傍系
    assert relation_to_koseki(f["stranger"], f["k2"]) == Relation.NONE
    assert relation_to_resident(f["ichiro"], f["taro"]) == Relation.LINEAL
    assert relation_to_resident(f["ichiro"], f["haruko"]) == Relation.HOUSEHOLD
    assert relation_to_resident(f["jiro"], f["natsuko"]) == Relation.NONE  # 叔父


def test_a_parent_known_by_name_only_is_unproven(municipality, family):
    """一郎's link in K1 is gone (the replica cannot tie the two entries): the name alone never decides."""
    KosekiMember.objects.filter(koseki=family["k1"], name="甲野 一郎").update(resident=None)
    assert relation_to_koseki(family["natsuko"], family["k1"]) == Relation.UNPROVEN


# --- entitlement, refused before paying ------------------------------------------------------------


@pytest.mark.parametrize("certificate_type", [CertificateType.KOSEKI_FULL, CertificateType.KOSEKI_FUHYO])
def test_a_strangers_honseki_typed_exactly_is_refused_before_paying(municipality, family, certificate_type):
    request = refused_at_signing(municipality, family["stranger"], certificate_type=certificate_type,
                                 options=koseki_options(family["k2"]))
    assert codes_of(request) == ["not_entitled"]
    assert "窓口" in request.decision_reason and "疎明資料" in request.decision_reason


def test_a_brother_and_an_uncle_are_refused(municipality, family):
    """Collateral relatives (兄弟, 叔父) ask as third parties at the counter (戸籍法 第10条の2)."""
    brother = refused_at_signing(municipality, family["jiro"], certificate_type=CertificateType.KOSEKI_FULL,
                                 options=koseki_options(family["k2"]))
    uncle = refused_at_signing(municipality, family["jiro"], options=other_options(family["natsuko"]))
    assert codes_of(brother) == codes_of(uncle) == ["not_entitled"]


def test_a_removed_member_and_a_grandchild_get_the_old_koseki_automatically(municipality, family, clerk):
    for requester in (family["ichiro"], family["natsuko"]):
        request = received(municipality, requester, certificate_type=CertificateType.KOSEKI_FULL,
                           options=koseki_options(family["k1"]))
        assert request.auto_acceptable and request.restrictions == []
        actions.approve(request, clerk)
        assert CertificateRequest.objects.get(pk=request.pk).state == State.APPROVED


def test_an_unproven_relation_is_never_automatic(municipality, family):
    KosekiMember.objects.filter(koseki=family["k1"], name="甲野 一郎").update(resident=None)
    request = received(municipality, family["natsuko"], certificate_type=CertificateType.KOSEKI_FULL,
                       options=koseki_options(family["k1"]))
    assert request.restriction_codes == ["relation_unproven"] and not request.auto_acceptable
    ProtectionPolicy.objects.create(municipality=municipality, unproven_relation="refuse")
    refused = refused_at_signing(municipality, family["natsuko"], certificate_type=CertificateType.KOSEKI_FULL,
                                 options=koseki_options(family["k1"]))
    assert codes_of(refused) == ["relation_unproven"]


def test_a_parent_in_another_household_follows_the_municipalitys_setting(municipality, family):
    """住民基本台帳法 第12条の3: never automatic; refused online by default, or for a clerk."""
    refused = refused_at_signing(municipality, family["ichiro"], options=other_options(family["taro"]))
    assert codes_of(refused) == ["relative_other_household"]
    ProtectionPolicy.objects.create(municipality=municipality, relative_other_household="review")
    request = received(municipality, family["ichiro"], options=other_options(family["taro"]))
    assert request.restriction_codes == ["relative_other_household"] and not request.auto_acceptable


@pytest.mark.parametrize("certificate_type,options,code", [
    (CertificateType.SEAL, {}, "seal_not_registered"),
    (CertificateType.TAX, {"scope": "self", "fiscal_year": "2025"}, "tax_record_missing"),
    (CertificateType.KOSEKI_FULL, {"honseki": "東京都窓口市どこにもない町", "koseki_head": "甲野 太郎"},
     "koseki_not_found"),
])
def test_eligibility_is_checked_before_paying(municipality, family, certificate_type, options, code):
    request = refused_at_signing(municipality, family["taro"], certificate_type=certificate_type, options=options)
    assert codes_of(request) == [code]


def test_a_household_members_tax_certificate_follows_the_setting(municipality, family, clerk):
    TaxRecord.objects.create(municipality=municipality, resident=family["hanako"], fiscal_year=2025,
                             income=1_000_000, deductions=430_000, municipal_tax=0, prefectural_tax=0)
    options = {"scope": "other", "fiscal_year": "2025", "subject_name": "甲野 花子", "subject_birth_date": "1952-06-01"}
    refused = refused_at_signing(municipality, family["taro"], certificate_type=CertificateType.TAX, options=options)
    assert codes_of(refused) == ["tax_household_member"]
    ProtectionPolicy.objects.create(municipality=municipality, tax_household="review")
    request = received(municipality, family["taro"], certificate_type=CertificateType.TAX, options=options)
    assert request.restriction_codes == ["tax_household_member"]
    # Someone outside the household never: the taxpayer's secret (地方税法 第22条).
    stranger = refused_at_signing(municipality, family["stranger"], certificate_type=CertificateType.TAX,
                                  options=options)
    assert codes_of(stranger) == ["not_entitled"]


def test_a_seal_certificate_is_for_the_registered_person(municipality, family, clerk):
    SealRegistration.objects.create(municipality=municipality, resident=family["taro"], registration_number="1",
                                    registered_on=D(2000, 1, 1), impression_png=b"")
    request = received(municipality, family["taro"], certificate_type=CertificateType.SEAL, options={})
    assert request.auto_acceptable


# --- 支援措置 ------------------------------------------------------------------------------------


def protect(municipality, resident, *perpetrators, number="S1"):
    return SupportMeasureRecord.objects.create(
        municipality=municipality, resident=resident, measure_number=number, kind="dv", starts_on=D(2020, 1, 1),
        perpetrators=[{"name": p.name, "date_of_birth": p.date_of_birth.isoformat(), "person_number": ""}
                      for p in perpetrators])


HOUSEHOLD = {"scope": "household", "members": "", "show_relationship": True, "show_honseki": False}


@pytest.mark.parametrize("options", [HOUSEHOLD, {**HOUSEHOLD, "scope": "self"}])
def test_a_perpetrator_sharing_the_victims_household_is_refused(municipality, family, options):
    protect(municipality, family["haruko"], family["ichiro"])
    request = refused_at_signing(municipality, family["ichiro"], options=options)
    assert codes_of(request) == ["support_measure_offender"]
    # The answer never says that a 支援措置 exists.
    assert "支援措置" not in request.decision_reason and "窓口" in request.decision_reason


def test_a_perpetrator_is_refused_on_line_as_on_the_web(municipality, family):
    protect(municipality, family["haruko"], family["ichiro"])
    request = refused_at_signing(municipality, family["ichiro"], options=HOUSEHOLD, channel="line")
    assert codes_of(request) == ["support_measure_offender"]


def test_the_web_tells_the_refused_resident_where_to_apply(municipality, family):
    protect(municipality, family["haruko"], family["ichiro"])
    client = Client()
    from .test_web import walk_to_confirm

    walk_to_confirm(client, municipality.code)
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    client.post(reverse("web:sign", args=[municipality.code, request.public_id]))
    challenge = SigningChallenge.objects.get(request=request)
    certificate, signature = cards.sign(cards.issue_card(family["ichiro"]), cards.DEMO_PIN,
                                        canonical_bytes(request, challenge.nonce))
    import base64

    page = client.post(reverse("identity_sandbox:returned"), {
        "nonce": challenge.nonce, "certificate": base64.b64encode(certificate).decode(),
        "signature": base64.b64encode(signature).decode()}, follow=True).content.decode()
    assert "オンラインではお受けできません" in page and "支援措置" not in page
    request.refresh_from_db()
    assert request.state == State.CANCELLED and codes_of(request) == ["support_measure_offender"]


def test_a_protected_person_on_the_certificate_holds_the_request(municipality, family, clerk, manager):
    protect(municipality, family["natsuko"], family["jiro"])
    request = received(municipality, family["haruko"], options=HOUSEHOLD)
    assert request.held and request.restriction_codes == ["support_measure_subject"]
    assert request.events.filter(kind="held").exists()
    # Never batch-approved, never force-approved by a clerk.
    office = signed_in(clerk)
    page = office.post(reverse("backoffice:batch"), {"operation": "approve",
                                                               "selected": [str(request.public_id)]},
                                 follow=True).content.decode()
    assert "0件を承認しました" in page
    with pytest.raises(actions.ActionError, match="保留中"):
        actions.approve(request, clerk, flags_acknowledged=True)
    with pytest.raises(actions.ActionError, match="管理者"):
        actions.release_hold(request, clerk, "確認しました")
    detail = office.get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    assert 'class="restricted"' in detail and "支援措置対象者が記載される" in detail
    assert "保留を解除する" not in detail  # the clerk has no release button
    actions.release_hold(request, manager, "請求理由を電話で確認した")
    actions.approve(request, clerk, flags_acknowledged=True)
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert request.events.get(kind="hold_released").actor == manager
    released = AuditEvent.objects.get(action="hold_released")
    assert (released.actor_id, released.target_id) == (manager.pk, str(request.pk))


def test_the_protected_persons_own_request_follows_the_setting(municipality, family):
    protect(municipality, family["haruko"], family["ichiro"])
    mine = received(municipality, family["haruko"], options={**HOUSEHOLD, "scope": "self"})
    assert "support_measure_self" in mine.restriction_codes and not mine.auto_acceptable
    ProtectionPolicy.objects.create(municipality=municipality, protected_self_request="refuse")
    refused = refused_at_signing(municipality, family["haruko"], options={**HOUSEHOLD, "scope": "self"})
    assert "support_measure_self" in codes_of(refused)


def test_a_support_measure_set_after_payment_stops_approval(municipality, family, clerk):
    request = received(municipality, family["haruko"], options=HOUSEHOLD)
    assert request.auto_acceptable
    protect(municipality, family["natsuko"], family["jiro"])
    with pytest.raises(actions.ActionError, match="支援措置対象者が記載される"):
        actions.approve(request, clerk)
    request.refresh_from_db()
    assert request.state == State.RECEIVED and request.held
    assert codes_of(request, "held") == ["support_measure_subject"]
    assert request.events.get(kind="held").data["stage"] == "approval"


def test_a_support_measure_set_after_approval_stops_printing(municipality, family, clerk):
    request = received(municipality, family["haruko"], options=HOUSEHOLD)
    actions.approve(request, clerk)
    protect(municipality, family["natsuko"], family["jiro"])
    with pytest.raises(actions.ActionError, match="再確認で停止"):
        actions.record_printed([request], clerk)
    request.refresh_from_db()
    assert request.state == State.APPROVED and request.held
    assert request.events.get(kind="held").data["stage"] == "printing"


# --- 発行停止 ------------------------------------------------------------------------------------


def test_an_issuance_stop_refuses_every_channel_and_is_lifted_with_a_log(municipality, family, clerk, manager):
    paid = received(municipality, family["haruko"], options=HOUSEHOLD)
    client = signed_in(manager)
    url = reverse("registry_office:stops")
    response = client.post(url, {"person_number": family["natsuko"].person_number, "ground": "court_order",
                                 "reason": "保護命令", "starts_on": datetime.date.today().isoformat()})
    assert response.status_code == 302
    stop = IssuanceStopOrder.objects.get()
    for channel in ("web", "line"):
        request = refused_at_signing(municipality, family["haruko"], options=HOUSEHOLD, channel=channel)
        assert codes_of(request) == ["issuance_stopped"]
    # Each refusal is counted in the statistics by its reason code (one on the web, one in LINE).
    refused = DailyStat.objects.filter(municipality=municipality, metric="refused", reason="issuance_stopped")
    assert sorted(refused.values_list("channel", "requests")) == [("line", 1), ("web", 1)]
    with pytest.raises(actions.ActionError, match="発行停止"):
        actions.approve(paid, clerk, flags_acknowledged=True)
    paid.refresh_from_db()
    with pytest.raises(actions.ActionError, match="発行できない理由"):
        actions.release_hold(paid, manager, "確認")
    client.post(reverse("registry_office:lift_stop", args=[stop.pk]), {"lift_reason": "命令の取消"})
    stop.refresh_from_db()
    assert stop.lifted_at and stop.lifted_by == manager and stop.lift_reason == "命令の取消"
    # Both steps are in the hash-chained audit trail, naming the protected person (開示請求 answers).
    trail = list(AuditEvent.objects.filter(action__startswith="issuance_stop").order_by("seq"))
    assert [(e.action, e.actor_id, e.resident_id) for e in trail] == [
        ("issuance_stop_placed", manager.pk, family["natsuko"].pk), ("issuance_stop_lifted", manager.pk,
                                                                     family["natsuko"].pk)]
    assert received(municipality, family["haruko"], options=HOUSEHOLD).auto_acceptable


@pytest.mark.parametrize("data", [
    {"person_number": "999999", "ground": "court_order", "reason": "x", "starts_on": "2030-01-01"},
    {"person_number": "\x00", "ground": "court_order", "reason": "x", "starts_on": "2030-01-01"},
    {"person_number": "1", "ground": "nope", "reason": "x", "starts_on": "2030-01-01"},
    {"person_number": "1", "ground": "court_order", "reason": "a\x00b", "starts_on": "2030-01-01"},
    {"person_number": "1", "ground": "court_order", "reason": "x" * 5000, "starts_on": "2030-01-01"},
    {"person_number": "1", "ground": "court_order", "reason": "x", "starts_on": "2030-13-45"},
    {"person_number": "1", "ground": "court_order", "reason": "x", "starts_on": "2030-01-02", "ends_on": "2030-01-01"},
])
def test_the_stop_page_refuses_bad_input_without_a_500(municipality, family, manager, data):
    response = signed_in(manager).post(reverse("registry_office:stops"), data)
    assert answered(response) and not IssuanceStopOrder.objects.exists()


def test_the_stop_page_survives_a_lone_surrogate_in_the_body(municipality, family, manager):
    """A lone surrogate (CESU-8 bytes) and a NUL: answered with the form again, nothing stored."""
    body = (f"person_number={family['taro'].person_number}&ground=court_order&reason=%ED%A0%80%00"
            f"&starts_on=2030-01-01").encode()
    response = signed_in(manager).post(reverse("registry_office:stops"), body,
                                       content_type="application/x-www-form-urlencoded")
    assert answered(response) and not IssuanceStopOrder.objects.exists()


def test_only_managers_reach_the_stop_page(municipality, family, clerk):
    assert signed_in(clerk).get(reverse("registry_office:stops")).status_code == 403


def test_lifting_twice_or_a_foreign_stop_changes_nothing(municipality, other_municipality, family, manager):
    stop = IssuanceStopOrder.objects.create(municipality=municipality, resident=family["taro"], ground="self_request",
                                            reason="本人申出", starts_on=D(2020, 1, 1), created_by=manager)
    client = signed_in(manager)
    client.post(reverse("registry_office:lift_stop", args=[stop.pk]), {"lift_reason": "本人の取下げ"})
    first = IssuanceStopOrder.objects.get().lifted_at
    client.post(reverse("registry_office:lift_stop", args=[stop.pk]), {"lift_reason": "もう一度"})
    stop.refresh_from_db()
    assert stop.lifted_at == first and stop.lift_reason == "本人の取下げ"
    other_manager = make_staff(other_municipality, "other", role=Role.MANAGER)
    assert signed_in(other_manager).post(reverse("registry_office:lift_stop", args=[stop.pk]),
                                         {"lift_reason": "x"}).status_code == 404


# --- the signing certificate at approval -----------------------------------------------------------


def revoke(card):
    authority = SandboxAuthority.objects.get()
    ca = x509.load_pem_x509_certificate(authority.certificate_pem.encode())
    key = serialization.load_pem_private_key(authority.private_key_pem.encode(), password=None)
    serial = x509.load_der_x509_certificate(bytes(card.certificate_der)).serial_number
    now = datetime.datetime.now(datetime.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(now - datetime.timedelta(seconds=30)).next_update(now + datetime.timedelta(days=1))
           .add_extension(x509.CRLNumber(int(now.timestamp() * 1000) + 1), critical=False)
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                    .revocation_date(now - datetime.timedelta(seconds=10)).build())
           .sign(key, hashes.SHA256()))
    trust.store_crl(crl.public_bytes(serialization.Encoding.DER))


def test_a_card_revoked_after_signing_stops_approval_and_cannot_be_released(municipality, family, clerk, manager):
    request = received(municipality, family["taro"])
    revoke(cards.issue_card(family["taro"]))
    with pytest.raises(actions.ActionError, match="失効"):
        actions.approve(request, clerk)
    request.refresh_from_db()
    assert request.held and request.restriction_codes == ["card_revoked"]
    with pytest.raises(actions.ActionError, match="却下"):
        actions.release_hold(request, manager, "確認")
    actions.reject(request, clerk, "署名用電子証明書が失効しているため")
    assert CertificateRequest.objects.get(pk=request.pk).state in {State.REJECTED, State.REFUNDED}


def test_a_move_after_signing_stops_printing(municipality, family, clerk):
    request = received(municipality, family["taro"])
    actions.approve(request, clerk)
    household = family["taro"].household
    household.address = "東京都窓口市北町九丁目9番9号"
    household.save()
    with pytest.raises(actions.ActionError, match="住所が変わった"):
        actions.record_printed([request], clerk)


# --- the same person on two channels at once ---------------------------------------------------------


def test_the_same_person_on_line_and_web_at_once_is_held_on_both(municipality, family, clerk):
    protect(municipality, family["natsuko"], family["jiro"])
    web = draft(municipality, options=HOUSEHOLD)
    line = draft(municipality, options=HOUSEHOLD, channel="line")
    sign(web, family["haruko"])
    sign(line, family["haruko"])
    pay(web)
    pay(line)
    both = CertificateRequest.objects.filter(pk__in=[web.pk, line.pk])
    assert all(r.held and not r.auto_acceptable for r in both)
    for r in both:
        with pytest.raises(actions.ActionError):
            actions.approve(r, clerk, flags_acknowledged=True)


# --- service windows -------------------------------------------------------------------------------


def test_windows_refuse_requests_and_approvals_outside_hours(municipality, family, clerk):
    never = dict(weekdays="", opens_at=datetime.time(9), closes_at=datetime.time(17))
    ServiceWindow.objects.create(municipality=municipality, stage="request",
                                 certificate_type=CertificateType.KOSEKI_FULL, channel="line", **never)
    with pytest.raises(actions.ActionError, match="時間帯"):
        draft(municipality, certificate_type=CertificateType.KOSEKI_FULL, options=koseki_options(family["k1"]),
              channel="line")
    # The web is not restricted for this kind.
    draft(municipality, certificate_type=CertificateType.KOSEKI_FULL, options=koseki_options(family["k1"]))
    request = received(municipality, family["taro"])
    ServiceWindow.objects.create(municipality=municipality, stage="review", **never)
    with pytest.raises(actions.ActionError, match="時間内"):
        actions.approve(request, clerk)
    request.refresh_from_db()
    assert not request.held and request.state == State.RECEIVED  # time refuses the step, not the request


# --- statistics ------------------------------------------------------------------------------------


def test_refusals_and_holds_are_queryable_by_code(municipality, family):
    refused_at_signing(municipality, family["stranger"], certificate_type=CertificateType.KOSEKI_FULL,
                       options=koseki_options(family["k2"]))
    protect(municipality, family["natsuko"], family["jiro"])
    received(municipality, family["haruko"], options=HOUSEHOLD)
    rows = RequestEvent.objects.for_municipality(municipality).filter(kind__in=["refused", "held"])
    counted = sorted((kind, code) for kind, codes in rows.values_list("kind", "data__codes") for code in codes)
    assert counted == [("held", "support_measure_subject"), ("refused", "not_entitled")]


# --- 本人通知 ------------------------------------------------------------------------------------


def register_for_notice(municipality, resident, email="taro@example.jp"):
    challenge = actions.start_personal_notice_registration(municipality, email)
    from madoguchi.applications.actions.restrictions import registration_bytes

    certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                        registration_bytes(municipality, challenge.nonce, email))
    return actions.register_personal_notice(municipality, nonce=challenge.nonce, certificate=certificate,
                                            signature=signature), challenge, certificate, signature


def test_personal_notice_goes_after_issuance_to_a_third_party_and_says_only_the_allowed(municipality, family,
                                                                                          clerk, manager):
    registration, challenge, certificate, signature = register_for_notice(municipality, family["taro"])
    assert registration.resident == family["taro"]
    # Replayed registration is refused.
    with pytest.raises(actions.ActionError, match="すでに使われて"):
        actions.register_personal_notice(municipality, nonce=challenge.nonce, certificate=certificate,
                                         signature=signature)
    ProtectionPolicy.objects.create(municipality=municipality, relative_other_household="review",
                                    personal_notice_items=["issued_on", "certificate"])
    third = received(municipality, family["ichiro"], options=other_options(family["taro"]))
    own = received(municipality, family["hanako"], options=HOUSEHOLD)  # 本人等: not notified
    actions.approve(third, clerk, flags_acknowledged=True)
    actions.approve(own, clerk)
    assert not Notice.objects.filter(dedupe_key__contains="personal_notice").exists()  # not before issuance
    mail.outbox.clear()
    actions.record_printed([third, own], clerk)
    notices = Notice.objects.filter(dedupe_key__contains="personal_notice")
    assert [n.request_id for n in notices] == [third.pk]
    body = notices.get().body
    assert "住民票の写し" in body and "交付年月日" in body
    assert "通数" not in body and "甲野 一郎" not in body and family["ichiro"].address not in body
    assert third.events.filter(kind="personal_notice").exists()


@pytest.mark.parametrize("email", ["", "no-at-sign", "a\x00@example.jp", "x" * 300 + "@example.jp"])
def test_personal_notice_registration_refuses_bad_addresses(municipality, email):
    with pytest.raises(actions.ActionError):
        actions.start_personal_notice_registration(municipality, email)


def test_personal_notice_registration_refuses_a_forged_signature(municipality, family):
    challenge = actions.start_personal_notice_registration(municipality, "a@example.jp")
    certificate, signature = cards.sign(cards.issue_card(family["taro"]), cards.DEMO_PIN, b"something else")
    with pytest.raises(actions.ActionError, match="確認できません"):
        actions.register_personal_notice(municipality, nonce=challenge.nonce, certificate=certificate,
                                         signature=signature)
