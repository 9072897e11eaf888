"""An e-mail change reaches Medusa by itself: the customer row's new email
is recorded in the outbox by the trigger, in the change's transaction, and
the drain queued after its commit copies it into Medusa's `customer`."""

import re

from django.core import mail

from replica.models import Change
from tests.factories import customer_create, token_for

REQUEST = "/store/customers/me/email"
CONFIRM = "/store/customers/me/email/confirm"


def change_email(api, token: str, new_email: str):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    asked = api.post(REQUEST, {"email": new_email}, format="json", **auth)
    assert asked.status_code == 200
    body = next(m.body for m in mail.outbox if m.to == [new_email])
    code = re.search(r"code is (\d{6})", body).group(1)
    return api.post(CONFIRM, {"code": code}, format="json", **auth)


def test_an_email_change_reaches_medusa(
    transactional_db, api, email, replica, medusa_db
):
    customer = customer_create(email=email)
    new_email = "new." + email

    answer = change_email(api, token_for(customer), new_email)

    assert answer.status_code == 200, answer.content
    row = medusa_db.execute(
        "SELECT email, has_account FROM customer WHERE id = %s", [customer.id]
    ).fetchone()
    assert row == {"email": new_email, "has_account": True}
    assert not Change.objects.exists()


def test_the_outbox_records_the_change_in_its_transaction(
    transactional_db, api, email, settings
):
    settings.MEDUSA_DATABASE_URL = ""  # standalone: nothing drains the outbox
    customer = customer_create(email=email)
    Change.objects.all().delete()

    answer = change_email(api, token_for(customer), "new." + email)

    assert answer.status_code == 200, answer.content
    assert list(Change.objects.values_list("customer_id", flat=True)) == [customer.id]


def test_a_refused_change_records_nothing(transactional_db, api, email, settings):
    settings.MEDUSA_DATABASE_URL = ""
    customer = customer_create(email=email)
    customer_create(email="new." + email)
    Change.objects.all().delete()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(customer)}"}

    answer = api.post(REQUEST, {"email": "new." + email}, format="json", **auth)

    assert answer.status_code == 422
    assert not Change.objects.exists()
