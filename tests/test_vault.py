"""Per-municipality secrets encrypted with a master key from the environment (tenancy.vault)."""

import base64
import io

import pytest
from django.core.management import CommandError, call_command

from madoguchi.payments.providers import ProviderRefused, municipality_setting
from madoguchi.tenancy import vault
from madoguchi.tenancy.models import MunicipalitySecret

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def keys(monkeypatch):
    def use(spec: str, active: str = ""):
        monkeypatch.setenv("MADOGUCHI_MASTER_KEYS", spec)
        if active:
            monkeypatch.setenv("MADOGUCHI_MASTER_KEY_ID", active)
        else:
            monkeypatch.delenv("MADOGUCHI_MASTER_KEY_ID", raising=False)
    use(f"a={KEY_A}")
    return use


def run(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    call_command("secrets", *args, stdout=out, **({"stdin": io.StringIO(stdin)} if stdin is not None else {}))
    return out.getvalue()


def test_a_secret_round_trips_and_is_not_stored_in_clear(keys, municipality):
    vault.set_secret(municipality, "PAYPAY_API_KEY", "a_test_key-値")
    row = MunicipalitySecret.objects.get()
    assert (row.municipality, row.name, row.key_id) == (municipality, "PAYPAY_API_KEY", "a")
    assert b"a_test_key" not in bytes(row.ciphertext)
    assert vault.get_secret(municipality, "PAYPAY_API_KEY") == "a_test_key-値"
    assert vault.get_secret(municipality.code, "PAYPAY_API_KEY") == "a_test_key-値"
    assert vault.get_secret(municipality, "PAYPAY_API_SECRET") is None
    # Setting again replaces the value; still one row.
    vault.set_secret(municipality, "PAYPAY_API_KEY", "new")
    assert (MunicipalitySecret.objects.count(), vault.get_secret(municipality, "PAYPAY_API_KEY")) == (1, "new")


def test_two_encryptions_of_one_value_differ(keys, municipality, other_municipality):
    vault.set_secret(municipality, "LINE_ACCESS_TOKEN", "same")
    vault.set_secret(other_municipality, "LINE_ACCESS_TOKEN", "same")
    first, second = MunicipalitySecret.objects.order_by("id")
    assert bytes(first.ciphertext)[:12] != bytes(second.ciphertext)[:12]  # fresh nonce each time


def test_the_wrong_master_key_is_refused(keys, municipality):
    vault.set_secret(municipality, "GMO_PG_SHOP_PASS", "shoppass9")
    keys(f"a={KEY_B}")  # same id, another key
    with pytest.raises(vault.SecretUnreadable):
        vault.get_secret(municipality, "GMO_PG_SHOP_PASS")
    # The provider sees a refusal with a reason, never a value or a crash.
    with pytest.raises(ProviderRefused, match="does not decrypt"):
        municipality_setting("MADOGUCHI_GMO_PG", municipality, "SHOP_PASS")


@pytest.mark.parametrize("where", [0, 11, 12, -1])
def test_tampered_ciphertext_is_refused(keys, municipality, where):
    secret = vault.set_secret(municipality, "PAYPAY_API_SECRET", "c2VjcmV0")
    blob = bytearray(bytes(secret.ciphertext))
    blob[where] ^= 0x01
    MunicipalitySecret.objects.filter(pk=secret.pk).update(ciphertext=bytes(blob))
    with pytest.raises(vault.SecretUnreadable):
        vault.get_secret(municipality, "PAYPAY_API_SECRET")


def test_truncated_ciphertext_is_refused(keys, municipality):
    secret = vault.set_secret(municipality, "PAYPAY_API_SECRET", "c2VjcmV0")
    MunicipalitySecret.objects.filter(pk=secret.pk).update(ciphertext=bytes(secret.ciphertext)[:5])
    with pytest.raises(vault.SecretUnreadable):
        vault.get_secret(municipality, "PAYPAY_API_SECRET")


def test_another_municipalitys_secret_does_not_decrypt_here(keys, municipality, other_municipality):
    """A ciphertext copied onto another town's row (or under another name) fails: the code and the
    name are authenticated with it."""
    theirs = vault.set_secret(other_municipality, "PAYPAY_API_KEY", "their-key")
    MunicipalitySecret.objects.create(municipality=municipality, name="PAYPAY_API_KEY", key_id=theirs.key_id,
                                      ciphertext=bytes(theirs.ciphertext))
    with pytest.raises(vault.SecretUnreadable):
        vault.get_secret(municipality, "PAYPAY_API_KEY")
    MunicipalitySecret.objects.create(municipality=other_municipality, name="PAYPAY_API_SECRET",
                                      key_id=theirs.key_id, ciphertext=bytes(theirs.ciphertext))
    with pytest.raises(vault.SecretUnreadable):
        vault.get_secret(other_municipality, "PAYPAY_API_SECRET")
    assert vault.get_secret(other_municipality, "PAYPAY_API_KEY") == "their-key"
    # And lookups never cross: this town has its own value or none.
    assert vault.get_secret(municipality, "LINE_ACCESS_TOKEN") is None


@pytest.mark.parametrize("spec,active", [("", ""), ("a", ""), ("a=", ""), ("a=!!!", ""),
                                         (f"a={base64.b64encode(b'short').decode()}", ""),
                                         (f"a={KEY_A},a={KEY_B}", "a"), (f"a={KEY_A},b={KEY_B}", ""),
                                         (f"a={KEY_A}", "zzz"), ("bad id=" + KEY_A, "")])
def test_missing_or_malformed_master_keys_are_refused(keys, municipality, settings, spec, active):
    settings.DEBUG = settings.TESTING = False  # production: no development key
    keys(spec, active)
    with pytest.raises(vault.MasterKeyMissing):
        vault.set_secret(municipality, "PAYPAY_API_KEY", "x")
    assert not MunicipalitySecret.objects.exists()


def test_a_secret_under_a_key_no_longer_configured_names_the_key(keys, municipality):
    vault.set_secret(municipality, "PAYPAY_API_KEY", "x")
    keys(f"b={KEY_B}")
    with pytest.raises(vault.MasterKeyMissing, match="'a'"):
        vault.get_secret(municipality, "PAYPAY_API_KEY")


def test_development_key_only_with_debug_or_tests(monkeypatch, municipality, settings):
    monkeypatch.delenv("MADOGUCHI_MASTER_KEYS", raising=False)
    vault.set_secret(municipality, "PAYPAY_API_KEY", "dev-value")
    assert MunicipalitySecret.objects.get().key_id == "dev"
    settings.DEBUG = settings.TESTING = False
    with pytest.raises(vault.MasterKeyMissing):
        vault.get_secret(municipality, "PAYPAY_API_KEY")


def test_rotation_re_encrypts_everything_under_the_active_key_and_is_idempotent(keys, municipality,
                                                                                  other_municipality):
    vault.set_secret(municipality, "PAYPAY_API_KEY", "one")
    vault.set_secret(other_municipality, "LINE_CHANNEL_SECRET", "two")
    before = {s.pk: bytes(s.ciphertext) for s in MunicipalitySecret.objects.all()}
    keys(f"a={KEY_A},b={KEY_B}", "b")
    # Readable with both keys present, before rotation.
    assert vault.get_secret(municipality, "PAYPAY_API_KEY") == "one"
    assert "re-encrypted 2 secret(s) under master key b" in run("rotate")
    rows = list(MunicipalitySecret.objects.all())
    assert {s.key_id for s in rows} == {"b"}
    assert all(bytes(s.ciphertext) != before[s.pk] for s in rows)
    assert "re-encrypted 0 secret(s)" in run("rotate")  # nothing left to do
    keys(f"b={KEY_B}")  # the old key leaves the environment
    assert vault.get_secret(municipality, "PAYPAY_API_KEY") == "one"
    assert vault.get_secret(other_municipality, "LINE_CHANNEL_SECRET") == "two"


def test_rotation_without_the_old_key_changes_nothing(keys, municipality):
    secret = vault.set_secret(municipality, "PAYPAY_API_KEY", "one")
    keys(f"b={KEY_B}")
    with pytest.raises(CommandError, match="'a'"):
        run("rotate")
    row = MunicipalitySecret.objects.get()
    assert (row.key_id, bytes(row.ciphertext)) == ("a", bytes(secret.ciphertext))


def test_rotation_stops_at_a_tampered_row_and_changes_nothing(keys, municipality, other_municipality):
    vault.set_secret(municipality, "PAYPAY_API_KEY", "one")
    bad = vault.set_secret(other_municipality, "PAYPAY_API_KEY", "two")
    MunicipalitySecret.objects.filter(pk=bad.pk).update(ciphertext=b"\x00" * 40)
    keys(f"a={KEY_A},b={KEY_B}", "b")
    with pytest.raises(CommandError, match="does not decrypt"):
        run("rotate")
    assert set(MunicipalitySecret.objects.values_list("key_id", flat=True)) == {"a"}


def test_command_sets_from_stdin_and_lists_names_only(keys, municipality, other_municipality):
    assert "set 139998 PAYPAY_API_KEY" in run("set", "139998", "PAYPAY_API_KEY", stdin="s3cret-value\n")
    run("set", "082082", "LINE_ACCESS_TOKEN", stdin="-----BEGIN-----\nline2\n-----END-----\n")
    assert vault.get_secret(municipality, "PAYPAY_API_KEY") == "s3cret-value"
    assert vault.get_secret(other_municipality, "LINE_ACCESS_TOKEN") == "-----BEGIN-----\nline2\n-----END-----"
    listing = run("list")
    assert "139998\tPAYPAY_API_KEY\ta" in listing and "082082\tLINE_ACCESS_TOKEN\ta" in listing
    assert "s3cret" not in listing and "line2" not in listing
    assert "082082" not in run("list", "139998")
    keys(f"a={KEY_A},b={KEY_B}", "b")
    assert "old master key" in run("list")
    assert "unset 139998 PAYPAY_API_KEY" in run("unset", "139998", "PAYPAY_API_KEY")
    assert vault.get_secret(municipality, "PAYPAY_API_KEY") is None


@pytest.mark.parametrize("args,stdin,message", [
    (("set", "999999", "PAYPAY_API_KEY"), "x", "no municipality"),
    (("set", "13999８", "PAYPAY_API_KEY"), "x", "no municipality"),
    (("set", "139998", "paypay_api_key"), "x", "secret name"),
    (("set", "139998", "PAYPAY\x00KEY"), "x", "secret name"),
    (("set", "139998", "A" * 101), "x", "secret name"),
    (("set", "139998", "PAYPAY_API_KEY"), "", "empty"),
    (("set", "139998", "PAYPAY_API_KEY"), "\n", "empty"),
    (("set", "139998", "PAYPAY_API_KEY"), "a\x00b", "NUL"),
    (("set", "139998", "PAYPAY_API_KEY"), "a\ud800b", "surrogate"),
    (("set", "139998", "PAYPAY_API_KEY"), "x" * (vault.MAX_VALUE_BYTES + 1), "longer"),
    (("unset", "139998", "PAYPAY_API_KEY"), None, "not set"),
])
def test_command_refuses_bad_input_clearly(keys, municipality, args, stdin, message):
    with pytest.raises(CommandError, match=message):
        run(*args, stdin=stdin)
    assert not MunicipalitySecret.objects.exists()


def test_providers_read_credentials_from_the_vault(keys, municipality, other_municipality):
    vault.set_secret(municipality, "PAYPAY_API_KEY", "ours")
    assert municipality_setting("MADOGUCHI_PAYPAY", municipality, "API_KEY") == "ours"
    with pytest.raises(ProviderRefused, match="PAYPAY_API_KEY of 082082 is not set"):
        municipality_setting("MADOGUCHI_PAYPAY", other_municipality, "API_KEY")


def test_line_credentials_come_from_the_vault(keys, municipality, settings):
    from madoguchi.line.account import credentials

    vault.set_secret(municipality, "LINE_CHANNEL_SECRET", "channel-secret")
    vault.set_secret(municipality, "LINE_ACCESS_TOKEN", "access-token")
    assert credentials(municipality.code) == type(credentials(municipality.code))("channel-secret", "access-token")
    vault.delete_secret(municipality, "LINE_ACCESS_TOKEN")
    settings.LINE_EMULATOR = False
    with pytest.raises(Exception, match="not set"):
        credentials(municipality.code)


def test_a_process_keeps_what_it_read_for_a_while_and_forgets_its_own_changes(
        keys, municipality, other_municipality, settings, monkeypatch, django_assert_num_queries):
    """The webhook reads the channel secret on every delivery: one read per process and period."""
    settings.SECRET_CACHE_SECONDS = 30
    clock = [1000.0]
    monkeypatch.setattr(vault.time, "monotonic", lambda: clock[0])
    vault.set_secret(municipality, "LINE_CHANNEL_SECRET", "one")
    with django_assert_num_queries(1):
        assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") == "one"
        assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") == "one"
    with django_assert_num_queries(1):  # "not set" is kept too, per municipality
        assert vault.get_secret(other_municipality.code, "LINE_CHANNEL_SECRET") is None
        assert vault.get_secret(other_municipality.code, "LINE_CHANNEL_SECRET") is None
    # Changed by another process (here: the row itself): seen once the period is over.
    MunicipalitySecret.objects.filter(municipality=municipality).delete()
    assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") == "one"
    clock[0] += 30
    assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") is None
    # Changed in this process: at once, by set, delete and rotate.
    vault.set_secret(municipality, "LINE_CHANNEL_SECRET", "two")
    assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") == "two"
    vault.delete_secret(municipality, "LINE_CHANNEL_SECRET")
    assert vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET") is None


def test_with_no_keeping_period_every_read_goes_to_the_database(keys, municipality, settings,
                                                                django_assert_num_queries):
    settings.SECRET_CACHE_SECONDS = 0
    vault.set_secret(municipality, "LINE_CHANNEL_SECRET", "one")
    with django_assert_num_queries(2):
        vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET")
        vault.get_secret(municipality.code, "LINE_CHANNEL_SECRET")
