import datetime

import pytest

from madoguchi.catalog.models import CertificateType, Fee, FeeChannel, PostageClass
from madoguchi.registry.models import Household, Resident
from madoguchi.tenancy.models import Municipality

from .audit_helpers import tsa_server  # noqa: F401 (a fixture for the audit tests)
from .browser_gate import BrowserGate


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(BrowserGate(config), "madoguchi-browser-gate")


def make_municipality(code: str = "139998", name: str = "窓口市", prefecture: str = "東京都") -> Municipality:
    municipality = Municipality.objects.create(
        code=code, name=name, prefecture=prefecture, certifier_title=f"{prefecture}{name}長",
        certifier_name="窓口 太郎", contact="市民課 03-0000-0000")
    for certificate_type in CertificateType.values:
        for channel in FeeChannel.values:
            Fee.objects.create(municipality=municipality, certificate_type=certificate_type, channel=channel,
                               amount=300)
    PostageClass.objects.create(municipality=municipality, code="regular", name="普通郵便", amount=110)
    return municipality


def make_resident(municipality: Municipality, name: str = "山田 花子", *, household: Household | None = None,
                  date_of_birth: datetime.date = datetime.date(1980, 4, 1), sex: str = "2",
                  relationship: str = "世帯主", address: str | None = None, **extra) -> Resident:
    if household is None:
        number = f"H{Household.objects.count() + 1:06d}"
        household = Household.objects.create(
            municipality=municipality, household_number=number, postal_code="100-0001",
            address=address or f"{municipality.prefecture}{municipality.name}本町一丁目2番3号")
    # 住民基本台帳法 第7条第7号・第8号: the address was set on moving in and notified a week later.
    extra.setdefault("address_since", datetime.date(2005, 4, 1))
    extra.setdefault("address_notified_on", datetime.date(2005, 4, 8))
    resident = Resident.objects.create(
        municipality=municipality, household=household, person_number=f"{Resident.objects.count() + 1:012d}",
        name=name, name_kana="やまだ はなこ", date_of_birth=date_of_birth, sex=sex, relationship=relationship,
        honseki="東京都窓口市本町一丁目2番地", koseki_head=name, became_resident_on=datetime.date(2005, 4, 1),
        **extra)
    if relationship == "世帯主":
        household.head = resident
        household.save(update_fields=["head"])
    return resident


@pytest.fixture(scope="session")
def timestamp_authority():
    """The sandbox RFC 3161 TSA on its own HTTP server on 127.0.0.1, as in the demo."""
    from madoguchi.documents.tsa import serve

    server = serve("127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(autouse=True)
def _timestamps_from_the_sandbox_tsa(settings, timestamp_authority):
    """Every signature in the tests is timestamped by the local TSA."""
    settings.DOCUMENT_TSA_URL = timestamp_authority


@pytest.fixture(autouse=True)
def _secrets_read_afresh():
    """A secret (or LINE account) a test set is rolled back with its transaction; this process must not
    keep it."""
    from madoguchi.line.account import forget_accounts
    from madoguchi.tenancy import vault

    vault.forget()
    forget_accounts()
    yield
    vault.forget()
    forget_accounts()


@pytest.fixture
def municipality(db) -> Municipality:
    return make_municipality()


@pytest.fixture
def other_municipality(db) -> Municipality:
    return make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")


@pytest.fixture
def resident(municipality) -> Resident:
    return make_resident(municipality)
