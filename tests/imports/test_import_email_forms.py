"""import_medusa brings emails into today's normal form: a full-width
domain becomes its ASCII form, so two Medusa accounts of one mailbox are
one collision in the report, and an address with no ASCII form is refused
with its reason. Plain ASCII addresses import as before."""

import pytest

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from tests.factories import fullwidth_domain
from tests.imports.test_import_medusa import by_reason, login, run_import

pytestmark = pytest.mark.django_db


def test_a_full_width_domain_is_imported_in_ascii_and_collides_with_its_twin(
    medusa, api
):
    kept, kept_customer = medusa.signup("Twin@Example.com", "pw kept")
    twin, _ = medusa.signup(fullwidth_domain("twin@example.com"), "pw twin")
    solo, solo_customer = medusa.signup(fullwidth_domain("solo@example.com"), "pw s")
    symbol, symbol_customer = medusa.signup("someone@\u2603.example.com", "pw x")

    output, lines = run_import(medusa, "--batch-size", "1")

    reasons = by_reason(lines)
    (collision,) = reasons["email_collision"]
    assert collision["table"] == "provider_identity"
    assert collision["conflicts_with"] == kept
    assert not AuthIdentity.objects.filter(id__in=[twin, symbol]).exists()
    assert AuthIdentity.objects.get(id=kept).customer_id == kept_customer
    assert Customer.objects.get(id=solo_customer).email == "solo@example.com"
    assert ProviderIdentity.objects.get(auth_identity_id=solo).entity_id == (
        "solo@example.com"
    )
    assert login(api, fullwidth_domain("solo@example.com"), "pw s").status_code == 200
    invalid = {(line["table"], line["id"]) for line in reasons["invalid_email"]}
    assert ("customer", symbol_customer) in invalid
    assert "twin@" not in output.lower()
