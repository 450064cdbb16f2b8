"""「申請の一覧」 by signing in with the My Number Card's 利用者証明用電子証明書: the sandbox card signs the
server's one-time challenge with its own key after its own 4-digit PIN, the server verifies path,
validity, key usage, signature and revocation for real, and the replica's linkage names the person.
Replays, forgeries, expired or revoked certificates, unknown serials, wrong PINs and hostile input
get a Japanese answer, never a 500 and never someone's requests."""

import base64
import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client
from django.urls import reverse

from madoguchi.identity import authentication, jpki, trust
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.models import AuthenticationChallenge
from madoguchi.operations.models import AuditEvent
from madoguchi.registry.models import CardCertificateLink

from .boundary import answered
from .conftest import make_resident
from .flow import received

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = jpki.CertificatePurpose.AUTHENTICATION


def my_url(municipality) -> str:
    return reverse("web:my_requests", args=[municipality.code])


def start(client: Client, municipality) -> str:
    """Press 「マイナンバーカードでサインイン」; returns the nonce of the card page it leads to."""
    response = client.post(my_url(municipality), {"op": "card"})
    assert response.status_code == 302, response.content
    return re.search(r"/authenticate/([^/]+)/$", response.url).group(1)


def card_page(nonce: str) -> str:
    return reverse("identity_sandbox:authenticate", args=[nonce])


def answer_on_card(client: Client, nonce: str, resident, pin: str = cards.DEMO_AUTH_PIN):
    return client.post(card_page(nonce), {"card_code": resident.person_number, "pin": pin})


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def hand_back(client: Client, nonce: str, certificate: bytes, signature: bytes):
    return client.post(reverse("identity_sandbox:authenticated"), {
        "nonce": nonce, "certificate": base64.b64encode(certificate).decode(),
        "signature": base64.b64encode(signature).decode()})


def sign_in(client: Client, municipality, resident):
    """The whole journey; returns the response of the card's hand-back (a redirect)."""
    nonce = start(client, municipality)
    page = answer_on_card(client, nonce, resident).content.decode()
    return client.post(reverse("identity_sandbox:authenticated"), {
        name: hidden(page, name) for name in ("nonce", "certificate", "signature")})


def followed(client: Client, response) -> str:
    assert response.status_code == 302, response.content.decode()[:500]
    page = client.get(response.url, follow=True)
    return page.content.decode()


@pytest.fixture
def requests(municipality, resident):
    """Hanako's request, and one of her neighbour's."""
    neighbour = make_resident(municipality, "佐藤 次郎", date_of_birth=datetime.date(1975, 1, 2), sex="1")
    return received(municipality, resident, notice_email=""), received(municipality, neighbour, notice_email="")


def test_the_card_opens_the_persons_own_requests_and_nothing_else(municipality, resident, requests):
    own, neighbours = requests
    client = Client()
    response = sign_in(client, municipality, resident)
    assert response.url == reverse("web:my_requests_card", args=[municipality.code])
    page = followed(client, response)
    assert "マイナンバーカードで本人確認しました" in page
    assert own.formatted_reception_number in page and neighbours.formatted_reception_number not in page
    # The request's own page opens in this browser now, the neighbour's does not.
    assert client.get(reverse("web:request", args=[municipality.code, own.public_id])).status_code == 200
    assert client.get(reverse("web:request", args=[municipality.code, neighbours.public_id])).status_code == 404
    # Closing the list on a shared device forgets the sign-in.
    client.post(my_url(municipality), {"op": "forget"})
    assert own.formatted_reception_number not in client.get(my_url(municipality)).content.decode()
    event = AuditEvent.objects.get(action="resident_card_sign_in")
    assert event.municipality_id == municipality.pk and event.resident_id == resident.pk


def test_the_authentication_certificate_is_its_own_and_names_nobody(municipality, resident):
    card = cards.ensure_authentication_certificate(cards.issue_card(resident))
    auth = x509.load_der_x509_certificate(bytes(card.auth_certificate_der))
    signing = x509.load_der_x509_certificate(bytes(card.certificate_der))
    assert auth.public_key().public_numbers() != signing.public_key().public_numbers()
    assert auth.issuer != signing.issuer
    with pytest.raises(x509.ExtensionNotFound):
        auth.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert resident.name not in auth.subject.rfc4514_string()
    link = CardCertificateLink.objects.get(municipality=municipality, resident=resident)
    assert link.serial_number == format(auth.serial_number, "x")


def test_a_signing_certificate_does_not_sign_anyone_in(municipality, resident):
    """The right key usage but the wrong CA: the signing CA never vouches for a sign-in."""
    client = Client()
    nonce = start(client, municipality)
    card = cards.issue_card(resident)
    challenge = AuthenticationChallenge.objects.get(nonce=nonce)
    certificate, signature = cards.sign(card, cards.DEMO_PIN, authentication.challenge_bytes(challenge))
    page = followed(client, hand_back(client, nonce, certificate, signature))
    assert "サインインを確認できませんでした" in page
    assert AuditEvent.objects.get(action="resident_card_sign_in_failed").after == '{"outcome":"untrusted_issuer",' \
        '"provider":"sandbox"}'


def test_a_used_challenge_cannot_be_replayed(municipality, resident, requests):
    client = Client()
    nonce = start(client, municipality)
    page = answer_on_card(client, nonce, resident).content.decode()
    form = {name: hidden(page, name) for name in ("nonce", "certificate", "signature")}
    assert client.post(reverse("identity_sandbox:authenticated"), form).status_code == 302
    replay = client.post(reverse("identity_sandbox:authenticated"), form)
    assert replay.status_code == 400 and "すでに使われています" in replay.content.decode()
    # The channel takes a verified sign-in once.
    client.get(reverse("web:my_requests_card", args=[municipality.code]))
    again = client.get(reverse("web:my_requests_card", args=[municipality.code]), follow=True)
    assert "すでに使われています" in again.content.decode()


def test_the_challenge_is_bound_to_the_session_that_asked(municipality, resident, requests):
    own, _ = requests
    asking, thief = Client(), Client()
    nonce = start(asking, municipality)
    page = answer_on_card(asking, nonce, resident).content.decode()
    stolen = thief.post(reverse("identity_sandbox:authenticated"), {
        name: hidden(page, name) for name in ("nonce", "certificate", "signature")})
    body = followed(thief, stolen)
    assert "有効期限が切れたか" in body and own.formatted_reception_number not in body


def test_an_expired_challenge_is_refused(municipality, resident):
    client = Client()
    nonce = start(client, municipality)
    AuthenticationChallenge.objects.filter(nonce=nonce).update(
        expires_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    assert answer_on_card(client, nonce, resident).status_code == 404


def test_a_forged_signature_is_refused_and_burns_the_challenge(municipality, resident, requests):
    own, _ = requests
    client = Client()
    nonce = start(client, municipality)
    card = cards.ensure_authentication_certificate(cards.issue_card(resident))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    challenge = AuthenticationChallenge.objects.get(nonce=nonce)
    forged = other_key.sign(authentication.challenge_bytes(challenge), padding.PKCS1v15(), hashes.SHA256())
    page = followed(client, hand_back(client, nonce, bytes(card.auth_certificate_der), forged))
    assert "サインインを確認できませんでした" in page and own.formatted_reception_number not in page
    assert AuthenticationChallenge.objects.get(nonce=nonce).outcome == jpki.Reason.BAD_SIGNATURE


def test_an_expired_certificate_is_refused(municipality, resident):
    client = Client()
    nonce = start(client, municipality)
    ca_cert, ca_key = cards.ensure_authority(AUTH)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    old = cards.build_authentication_certificate(ca_cert, ca_key, key.public_key(), now - datetime.timedelta(days=900),
                                                 now - datetime.timedelta(days=1))
    challenge = AuthenticationChallenge.objects.get(nonce=nonce)
    signature = key.sign(authentication.challenge_bytes(challenge), padding.PKCS1v15(), hashes.SHA256())
    page = followed(client, hand_back(client, nonce, old.public_bytes(serialization.Encoding.DER), signature))
    assert "有効期限が切れています" in page


def test_a_revoked_certificate_is_refused(municipality, resident, requests):
    card = cards.ensure_authentication_certificate(cards.issue_card(resident))
    ca_cert, ca_key = cards.ensure_authority(AUTH)
    serial = x509.load_der_x509_certificate(bytes(card.auth_certificate_der)).serial_number
    now = datetime.datetime.now(datetime.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
           .next_update(now + datetime.timedelta(days=1))
           .add_extension(x509.CRLNumber(int(now.timestamp() * 1000) + 1), critical=False)
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                    .revocation_date(now - datetime.timedelta(hours=1)).build())
           .sign(ca_key, hashes.SHA256()))
    trust.store_crl(crl.public_bytes(serialization.Encoding.DER))
    client = Client()
    page = followed(client, sign_in(client, municipality, resident))
    assert "失効しています" in page and requests[0].formatted_reception_number not in page


def test_a_serial_the_replica_does_not_know_points_to_the_signed_link(municipality, resident, requests):
    cards.ensure_authentication_certificate(cards.issue_card(resident))
    CardCertificateLink.objects.filter(resident=resident).delete()
    client = Client()
    page = followed(client, sign_in(client, municipality, resident))
    assert "この市区町村の記録にありません" in page and "申請の一覧を開くリンク" in page
    assert requests[0].formatted_reception_number not in page
    # The link form is right there on the page.
    assert 'name="email"' in page


def test_a_link_revoked_in_the_replica_is_refused(municipality, resident):
    cards.ensure_authentication_certificate(cards.issue_card(resident))
    CardCertificateLink.objects.filter(resident=resident).update(revoked_on=datetime.date(2020, 1, 1))
    client = Client()
    assert "失効しています" in followed(client, sign_in(client, municipality, resident))


def test_a_wrong_pin_is_counted_and_locks_after_three(municipality, resident):
    client = Client()
    nonce = start(client, municipality)
    first = answer_on_card(client, nonce, resident, pin="9999").content.decode()
    assert "あと2回" in first
    answer_on_card(client, nonce, resident, pin="9999")
    locked = answer_on_card(client, nonce, resident, pin="9999").content.decode()
    assert "ロックがかかっています" in locked
    # The signing PIN is a different one and still works.
    card = cards.issue_card(resident)
    card.refresh_from_db()
    assert card.auth_locked and not card.locked
    # A PIN that is not four digits is refused by the form.
    assert "数字4桁" in answer_on_card(client, nonce, resident, pin="12a4").content.decode()


def test_sign_in_is_rate_limited_like_the_link(municipality):
    client = Client()
    for _ in range(10):
        start(client, municipality)
    response = client.post(my_url(municipality), {"op": "card"}, follow=True)
    assert "回数が多すぎます" in response.content.decode()


@pytest.mark.parametrize("body", [
    b"nonce=%00&certificate=AA%3D%3D&signature=AA%3D%3D",
    b"nonce=%ED%A0%80&certificate=AA%3D%3D&signature=AA%3D%3D",
    b"nonce=abc&certificate=%ED%A0%80&signature=AA%3D%3D",
    b"nonce=abc&certificate=not-base64!&signature=AA%3D%3D",
    b"nonce=abc&certificate=" + b"A" * 20000 + b"&signature=AA%3D%3D",
], ids=["nul", "lone-surrogate", "surrogate-cert", "not-base64", "oversized"])
def test_hostile_hand_backs_are_answered_in_japanese(municipality, body):
    response = Client().post(reverse("identity_sandbox:authenticated"), data=body,
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    text = response.content.decode()
    assert "正しくありません" in text or "正しくない文字" in text or "すでに使われています" in text


@pytest.mark.parametrize("body", [b"card_code=%00&pin=1234", b"card_code=%ED%A0%80&pin=1234",
                                  b"card_code=1&pin=%00%00%00%00"], ids=["nul", "lone-surrogate", "nul-pin"])
def test_hostile_card_page_input_is_answered(municipality, body):
    client = Client()
    nonce = start(client, municipality)
    response = client.post(card_page(nonce), data=body, content_type="application/x-www-form-urlencoded")
    assert answered(response)


def test_a_garbage_nonce_is_a_404_not_a_500(municipality):
    assert Client().get(card_page("x" * 200)).status_code == 404
    assert Client().get(reverse("web:my_requests_card", args=[municipality.code]), follow=True).status_code == 200


def test_an_authentication_certificate_never_signs_a_request(municipality, resident):
    from madoguchi.applications import actions
    from madoguchi.applications.signing_terms import canonical_bytes

    from .flow import draft, start_signing

    request = draft(municipality)
    challenge = start_signing(request)
    card = cards.ensure_authentication_certificate(cards.issue_card(resident))
    certificate, signature = cards.authenticate(card, cards.DEMO_AUTH_PIN, canonical_bytes(request, challenge.nonce))
    with pytest.raises(actions.SignatureRejected) as refused:
        actions.record_signature(request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                                 provider="sandbox")
    assert refused.value.reason == jpki.Reason.UNTRUSTED_ISSUER
