"""The JPKI verification core with real keys and certificates, and the sandbox card's PIN lockout.

Every hostile certificate here must come back as `valid False` with its documented reason code:
`verify_signature` is called with bytes from the resident's browser and must never raise.
"""

import datetime

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.identity import jpki
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.contrib.sandbox.card import build_signing_certificate
from madoguchi.identity.jpki import BasicFour, Reason

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)
CONTENT = '{"v":1,"request":"申請","nonce":"abc"}'.encode()
BASIC_FOUR = BasicFour(name="辻\U000E0102 一郎", date_of_birth=datetime.date(1970, 1, 1), sex="1",
                       address="東京都窓口市本町一丁目2番3号")
SIGNING_USAGE = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
DER = serialization.Encoding.DER


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_ca(key: rsa.RSAPrivateKey, common_name: str = "Test JPKI Signing CA") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 30 * DAY).not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )


def leaf_builder(issuer: x509.Name, public_key, *, key_usage: x509.KeyUsage | None = SIGNING_USAGE,
                 san: list[x509.GeneralName] | None = None, subject: x509.Name | None = None):
    """A leaf shaped like build_signing_certificate's, with each part open to change."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "0123456789ABCDEF")]))
        .issuer_name(issuer).public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY).not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder


def other_names(**values: str) -> list[x509.GeneralName]:
    """The basic four as otherName entries, with any entry replaced (a value) or dropped (None)."""
    entries = {
        jpki.OID_NAME: BASIC_FOUR.name, jpki.OID_SEX: BASIC_FOUR.sex,
        jpki.OID_DATE_OF_BIRTH: jpki.encode_date_of_birth(BASIC_FOUR.date_of_birth),
        jpki.OID_ADDRESS: BASIC_FOUR.address,
    }
    keys = {"name": jpki.OID_NAME, "sex": jpki.OID_SEX, "date_of_birth": jpki.OID_DATE_OF_BIRTH,
            "address": jpki.OID_ADDRESS}
    for key, value in values.items():
        entries[keys[key]] = value
    return [x509.OtherName(oid, jpki.der_utf8(v)) for oid, v in entries.items() if v is not None]


def sign(key: rsa.RSAPrivateKey, content: bytes = CONTENT) -> bytes:
    return key.sign(content, padding.PKCS1v15(), hashes.SHA256())


class Pki:
    """Keys are generated once per module: RSA-2048 generation is slow."""

    def __init__(self):
        self.ca_key, self.rogue_ca_key, self.forged_ca_key = new_key(), new_key(), new_key()
        self.card_key, self.other_card_key = new_key(), new_key()
        self.ca = make_ca(self.ca_key)
        self.rogue_ca = make_ca(self.rogue_ca_key, "Rogue Signing CA")
        # Same subject name as the trusted CA, different key.
        self.forged_ca = make_ca(self.forged_ca_key)
        self.anchors = [self.ca.public_bytes(DER)]

    def leaf(self, public_key=None, *, ca=None, ca_key=None, basic_four: BasicFour = BASIC_FOUR,
             not_before: datetime.datetime = NOW - DAY,
             not_after: datetime.datetime = NOW + 5 * 365 * DAY) -> x509.Certificate:
        return build_signing_certificate(ca or self.ca, ca_key or self.ca_key,
                                         public_key or self.card_key.public_key(), basic_four,
                                         not_before, not_after)

    def verify(self, certificate, signature: bytes | None = None, content: bytes = CONTENT,
               at: datetime.datetime = NOW, now: datetime.datetime | None = None) -> jpki.VerificationResult:
        if isinstance(certificate, x509.Certificate):
            certificate = certificate.public_bytes(DER)
        if signature is None:
            signature = sign(self.card_key, content)
        return jpki.verify_signature(certificate, signature, content, self.anchors, at=at, now=now)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def assert_refused(result: jpki.VerificationResult, reason: str) -> None:
    assert (result.valid, result.reason) == (False, reason)
    assert "basic_four" not in result.checks


# --- the valid case ------------------------------------------------------------------------------

def test_valid_signature_verifies_and_yields_the_basic_four(pki):
    result = pki.verify(pki.leaf())
    assert result.valid and result.reason is None
    assert result.basic_four == BASIC_FOUR
    assert result.basic_four.name == "辻\U000E0102 一郎"  # the variation selector survives
    assert result.checks == ["path", "validity", "key_usage", "signature", "basic_four"]
    assert result.issuer == pki.ca.subject.rfc4514_string()
    assert result.as_json()["basic_four"] == {"name": BASIC_FOUR.name, "date_of_birth": "1970-01-01",
                                              "sex": "1", "address": BASIC_FOUR.address}


def test_pem_certificate_is_accepted(pki):
    pem = pki.leaf().public_bytes(serialization.Encoding.PEM)
    result = pki.verify(b"\n  " + pem)
    assert result.valid and result.basic_four == BASIC_FOUR


def test_unreadable_trust_anchor_is_skipped_not_fatal(pki):
    leaf = pki.leaf().public_bytes(DER)
    result = jpki.verify_signature(leaf, sign(pki.card_key), CONTENT, [b"garbage", *pki.anchors], at=NOW)
    assert result.valid


# --- the signature ----------------------------------------------------------------------------------

def test_random_bytes_as_signature_are_refused(pki):
    import os

    for signature in (os.urandom(256), os.urandom(100), b"", b"\x00" * 256):
        assert_refused(pki.verify(pki.leaf(), signature), Reason.BAD_SIGNATURE)


def test_signature_over_other_content_is_refused(pki):
    other = CONTENT.replace(b"abc", b"abd")
    assert_refused(pki.verify(pki.leaf(), sign(pki.card_key, other)), Reason.BAD_SIGNATURE)


def test_signature_by_another_card_is_refused(pki):
    assert_refused(pki.verify(pki.leaf(), sign(pki.other_card_key)), Reason.BAD_SIGNATURE)


# --- the certification path ----------------------------------------------------------------------

def test_leaf_from_a_ca_that_is_not_a_trust_anchor_is_refused(pki):
    leaf = pki.leaf(ca=pki.rogue_ca, ca_key=pki.rogue_ca_key)
    assert_refused(pki.verify(leaf), Reason.UNTRUSTED_ISSUER)


def test_leaf_from_a_forged_ca_with_the_trusted_name_is_refused(pki):
    assert pki.forged_ca.subject == pki.ca.subject
    leaf = pki.leaf(ca=pki.forged_ca, ca_key=pki.forged_ca_key)
    assert leaf.issuer == pki.ca.subject
    assert_refused(pki.verify(leaf), Reason.UNTRUSTED_ISSUER)


def test_self_signed_leaf_is_refused(pki):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self")])
    leaf = (leaf_builder(name, pki.card_key.public_key(), san=other_names(), subject=name)
            .sign(pki.card_key, hashes.SHA256()))
    assert_refused(pki.verify(leaf), Reason.SELF_SIGNED)


def test_ca_certificate_presented_as_a_leaf_is_refused(pki):
    assert_refused(pki.verify(pki.ca, sign(pki.ca_key)), Reason.CA_CERTIFICATE)


# --- validity --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("window", "at", "now", "reason"), [
    ((-10, -1), 0, None, Reason.EXPIRED),           # expired before signing
    ((-10, -1), -5, 0, Reason.EXPIRED),             # valid when signed, expired by now
    ((-1, 10), 11, 0, Reason.EXPIRED),              # signing time after the end
    ((1, 10), 0, None, Reason.NOT_YET_VALID),        # not yet valid when signed
    ((1, 10), 0, 5, Reason.NOT_YET_VALID),           # signing time before the start, now fine
    ((-1, 10), 0, -2, Reason.NOT_YET_VALID),         # signing time fine, `now` before the start
], ids=["expired", "expired-since-signing", "signed-after-expiry", "not-yet-valid",
        "signed-before-start", "now-before-start"])
def test_certificate_outside_its_validity_is_refused(pki, window, at, now, reason):
    leaf = pki.leaf(not_before=NOW + window[0] * DAY, not_after=NOW + window[1] * DAY)
    result = pki.verify(leaf, at=NOW + at * DAY, now=None if now is None else NOW + now * DAY)
    assert_refused(result, reason)
    assert result.checks == ["path"]


def test_signature_made_while_valid_and_checked_while_valid_verifies(pki):
    leaf = pki.leaf(not_before=NOW - 10 * DAY, not_after=NOW + 10 * DAY)
    assert pki.verify(leaf, at=NOW - 5 * DAY, now=NOW).valid


# --- key usage, key and hash strength --------------------------------------------------------------

@pytest.mark.parametrize("key_usage", [
    x509.KeyUsage(False, False, False, False, False, True, False, False, False),  # keyCertSign only
    x509.KeyUsage(False, False, True, False, False, False, False, False, False),  # keyEncipherment only
    None,  # no key usage at all
], ids=["keyCertSign-only", "keyEncipherment-only", "missing"])
def test_certificate_without_signing_key_usage_is_refused(pki, key_usage):
    leaf = (leaf_builder(pki.ca.subject, pki.card_key.public_key(), key_usage=key_usage, san=other_names())
            .sign(pki.ca_key, hashes.SHA256()))
    assert_refused(pki.verify(leaf), Reason.KEY_USAGE)


def test_rsa_1024_leaf_is_refused_as_weak(pki):
    weak = new_key(1024)
    assert_refused(pki.verify(pki.leaf(weak.public_key()), sign(weak)), Reason.WEAK_KEY)


def test_non_rsa_leaf_is_refused_as_weak_key(pki):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    assert_refused(pki.verify(pki.leaf(ec_key.public_key())), Reason.WEAK_KEY)


def test_leaf_signed_by_the_ca_with_sha1_is_refused(pki):
    builder = leaf_builder(pki.ca.subject, pki.card_key.public_key(), san=other_names())
    try:
        leaf = builder.sign(pki.ca_key, hashes.SHA1())
    except UnsupportedAlgorithm:
        pytest.skip("this cryptography refuses to create SHA-1 certificate signatures")
    assert_refused(pki.verify(leaf), Reason.WEAK_HASH)


def test_leaf_signed_by_the_ca_with_sha224_is_refused_as_weak_hash(pki):
    leaf = (leaf_builder(pki.ca.subject, pki.card_key.public_key(), san=other_names())
            .sign(pki.ca_key, hashes.SHA224()))
    assert_refused(pki.verify(leaf), Reason.WEAK_HASH)


# --- hostile bytes ----------------------------------------------------------------------------------

def test_garbage_empty_and_truncated_certificates_are_malformed(pki):
    import os

    der = pki.leaf().public_bytes(DER)
    pem = pki.leaf().public_bytes(serialization.Encoding.PEM)
    for certificate in (b"", b"\x00", os.urandom(1024), b"\x30\x82\xff\xff" + os.urandom(64), der[:-1],
                        der[: len(der) // 2], der[:10], der + b"\x00", pem[:200],
                        b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"):
        result = pki.verify(certificate)
        assert (result.valid, result.reason) == (False, Reason.MALFORMED), certificate[:20]


def _with_malformed_basic_constraints(pki) -> bytes:
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
               .issuer_name(pki.ca.subject).public_key(pki.card_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY)
               .not_valid_after(NOW + DAY)
               .add_extension(x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02"), False))
    return builder.sign(pki.ca_key, hashes.SHA256()).public_bytes(DER)


def _with_duplicate_extension(pki) -> bytes:
    # The builder refuses duplicates, so build two extensions whose OIDs differ in one byte and
    # make them equal in the DER (the signature no longer matters: parsing comes first).
    der = (leaf_builder(pki.ca.subject, pki.card_key.public_key(), san=other_names())
           .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"), False)
           .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.5"), b"\x05\x00"), False)
           .sign(pki.ca_key, hashes.SHA256()).public_bytes(DER))
    assert der.count(bytes.fromhex("06032a0305")) == 1
    return der.replace(bytes.fromhex("06032a0305"), bytes.fromhex("06032a0304"))


@pytest.mark.parametrize("build", [_with_malformed_basic_constraints, _with_duplicate_extension],
                         ids=["malformed-basic-constraints", "duplicate-extension"])
def test_certificate_with_unparseable_extensions_is_malformed_and_does_not_raise(pki, build):
    certificate = build(pki)
    x509.load_der_x509_certificate(certificate)  # the outer structure parses; the extensions do not
    result = pki.verify(certificate)
    assert (result.valid, result.reason) == (False, Reason.MALFORMED)


# --- the basic four in subjectAltName -----------------------------------------------------------------

def _leaf_with_san(pki, san):
    return leaf_builder(pki.ca.subject, pki.card_key.public_key(), san=san).sign(pki.ca_key, hashes.SHA256())


def test_leaf_built_by_hand_with_the_basic_four_verifies(pki):
    # Guards the helpers below: with all four entries the same leaf is accepted.
    assert pki.verify(_leaf_with_san(pki, other_names())).basic_four == BASIC_FOUR


def test_leaf_without_subject_alt_name_is_refused(pki):
    assert_refused(pki.verify(_leaf_with_san(pki, None)), Reason.BASIC_FOUR)


@pytest.mark.parametrize("missing", ["name", "sex", "date_of_birth", "address"])
def test_leaf_missing_one_of_the_basic_four_is_refused(pki, missing):
    assert_refused(pki.verify(_leaf_with_san(pki, other_names(**{missing: None}))), Reason.BASIC_FOUR)


def test_leaf_with_a_duplicate_basic_four_entry_is_refused(pki):
    san = [*other_names(), x509.OtherName(jpki.OID_NAME, jpki.der_utf8("別人 太郎"))]
    assert_refused(pki.verify(_leaf_with_san(pki, san)), Reason.BASIC_FOUR)


@pytest.mark.parametrize("value", [
    "619700101",   # no era has digit 6
    "019700101",   # nor 0
    "419700101",   # 平成 with a date in 昭和
    "519890108",   # 令和 with the first day of 平成
    "319701301",   # month 13
    "31970010",    # too short
    "3197001011",  # too long
    "3yyyymmdd",
    "",
])
def test_leaf_with_a_malformed_date_of_birth_is_refused(pki, value):
    with pytest.raises(ValueError):
        jpki.decode_date_of_birth(value)
    assert_refused(pki.verify(_leaf_with_san(pki, other_names(date_of_birth=value))), Reason.BASIC_FOUR)


@pytest.mark.parametrize("change", [{"sex": "9"}, {"name": "  "}, {"address": ""}])
def test_leaf_with_an_empty_or_invalid_basic_four_value_is_refused(pki, change):
    assert_refused(pki.verify(_leaf_with_san(pki, other_names(**change))), Reason.BASIC_FOUR)


def test_leaf_whose_basic_four_value_is_not_a_string_is_refused(pki):
    san = [x509.OtherName(n.type_id, b"\x02\x01\x05" if n.type_id == jpki.OID_ADDRESS else n.value)
           for n in other_names()]
    assert_refused(pki.verify(_leaf_with_san(pki, san)), Reason.BASIC_FOUR)


def test_leaf_whose_basic_four_value_is_not_utf8_is_refused(pki):
    san = [x509.OtherName(n.type_id, b"\x0c\x02\xff\xfe" if n.type_id == jpki.OID_NAME else n.value)
           for n in other_names()]
    assert_refused(pki.verify(_leaf_with_san(pki, san)), Reason.BASIC_FOUR)


# --- date of birth encoding --------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "encoded"), [
    (datetime.date(1868, 1, 25), "118680125"),  # first day of 明治
    (datetime.date(1912, 7, 29), "119120729"),
    (datetime.date(1912, 7, 30), "219120730"),  # 大正
    (datetime.date(1926, 12, 24), "219261224"),
    (datetime.date(1926, 12, 25), "319261225"),  # 昭和
    (datetime.date(1989, 1, 7), "319890107"),   # last day of 昭和
    (datetime.date(1989, 1, 8), "419890108"),   # first day of 平成
    (datetime.date(2019, 4, 30), "420190430"),  # last day of 平成
    (datetime.date(2019, 5, 1), "520190501"),   # first day of 令和
])
def test_date_of_birth_era_digit_at_era_boundaries(day, encoded):
    assert jpki.encode_date_of_birth(day) == encoded
    assert jpki.decode_date_of_birth(encoded) == day


def test_date_of_birth_before_meiji_cannot_be_encoded():
    with pytest.raises(ValueError):
        jpki.encode_date_of_birth(datetime.date(1868, 1, 24))


@given(st.dates(min_value=datetime.date(1868, 1, 25)))
def test_date_of_birth_round_trips(day):
    assert jpki.decode_date_of_birth(jpki.encode_date_of_birth(day)) == day


# --- DER strings ----------------------------------------------------------------------------------------

@given(st.text())
def test_der_utf8_string_round_trips(text):
    assert jpki.parse_der_string(jpki.der_utf8(text)) == text


@pytest.mark.parametrize(("text", "header"), [
    ("a" * 127, b"\x0c\x7f"),
    ("a" * 128, b"\x0c\x81\x80"),
    ("あ" * 43, b"\x0c\x81\x81"),                    # 129 bytes of UTF-8 from 43 characters
    ("辻\U000E0102" * 100, b"\x0c\x82\x02\xbc"),      # 700 bytes
    ("x" * 70000, b"\x0c\x83\x01\x11\x70"),
])
def test_der_utf8_uses_the_long_length_form_beyond_127_bytes(text, header):
    der = jpki.der_utf8(text)
    assert der.startswith(header) and len(der) == len(header) + len(text.encode())
    assert jpki.parse_der_string(der) == text


def test_der_printable_and_ia5_strings_are_read():
    assert jpki.parse_der_string(b"\x13\x01" + b"1") == "1"
    assert jpki.parse_der_string(b"\x16\x03abc") == "abc"


@pytest.mark.parametrize("der", [
    b"", b"\x0c", b"\x02\x01\x05", b"\x0c\x05abc", b"\x0c\x02abc", b"\x0c\x80", b"\x0c\x84\x00\x00\x00\x01a",
    b"\x0c\x82\x01", b"\x0c\x02\xff\xfe",
], ids=["empty", "tag-only", "integer", "short", "trailing", "indefinite", "4-length-octets",
        "truncated-length", "bad-utf8"])
def test_malformed_der_string_is_refused(der):
    with pytest.raises(ValueError):  # UnicodeDecodeError is a ValueError
        jpki.parse_der_string(der)


# --- the sandbox card's PIN ------------------------------------------------------------------------------

@pytest.fixture
def card(resident):
    return cards.issue_card(resident)


def test_four_wrong_pins_leave_one_try(card):
    remaining = []
    for _ in range(4):
        with pytest.raises(cards.WrongPin) as wrong:
            cards.sign(card, "WRONG1", CONTENT)
        remaining.append(wrong.value.remaining)
    assert remaining == [4, 3, 2, 1]
    card.refresh_from_db()
    assert (card.failed_pin_attempts, card.locked) == (4, False)


def test_correct_pin_resets_the_counter(card):
    for _ in range(4):
        with pytest.raises(cards.WrongPin):
            cards.sign(card, "WRONG1", CONTENT)
    certificate, signature = cards.sign(card, cards.DEMO_PIN, CONTENT)
    card.refresh_from_db()
    assert card.failed_pin_attempts == 0
    anchors = [cards.ensure_authority()[0].public_bytes(DER)]
    assert jpki.verify_signature(certificate, signature, CONTENT, anchors, at=NOW).valid
    # Four more wrong tries are allowed again before the lock.
    for _ in range(4):
        with pytest.raises(cards.WrongPin) as wrong:
            cards.sign(card, "WRONG1", CONTENT)
    assert wrong.value.remaining == 1


def test_five_wrong_pins_in_a_row_lock_the_card(card):
    for _ in range(4):
        with pytest.raises(cards.WrongPin):
            cards.sign(card, "WRONG1", CONTENT)
    with pytest.raises(cards.CardLocked):
        cards.sign(card, "WRONG1", CONTENT)
    card.refresh_from_db()
    assert card.locked


def test_locked_card_refuses_even_the_correct_pin(card):
    for _ in range(4):
        with pytest.raises(cards.WrongPin):
            cards.sign(card, "WRONG1", CONTENT)
    with pytest.raises(cards.CardLocked):
        cards.sign(card, "WRONG1", CONTENT)
    with pytest.raises(cards.CardLocked):
        cards.sign(card, cards.DEMO_PIN, CONTENT)
    card.refresh_from_db()
    assert card.locked and card.failed_pin_attempts == 5
