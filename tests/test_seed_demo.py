import io

import pytest
from django.core.management import call_command

from madoguchi.identity.contrib.sandbox.models import SandboxCard
from madoguchi.registry.models import Resident
from madoguchi.tenancy.models import Municipality, Staff


@pytest.mark.django_db
def test_seed_demo_prints_the_sign_ins_and_is_idempotent():
    out = io.StringIO()
    call_command("seed_demo", residents=150, stdout=out)
    call_command("seed_demo", residents=150, stdout=io.StringIO())
    text = out.getvalue()
    municipality = Municipality.objects.get()
    assert municipality.code == "139998" and Resident.objects.count() == 150
    assert set(Staff.objects.values_list("username", flat=True)) == {"demo-clerk", "demo-manager", "demo-auditor"}
    assert "/m/139998/" in text and "/office/" in text and "TOTP secret" in text and "ABC123" in text
    for card in SandboxCard.objects.all():
        assert card.card_code in text
    assert SandboxCard.objects.count() >= 5
