"""A customer who deletes their account is erased in Medusa's tables too:
the row stays (orders keep its id), the person goes, addresses go."""

import pytest

from tests.replica.rows import medusa_addresses, medusa_customer

ME = "/store/customers/me"


@pytest.mark.django_db(transaction=True)
def test_deleting_the_account_erases_the_person_in_medusa(
    api, email, password, replica, medusa_db
):
    signup = api.post(
        "/store/auth/signup",
        {"email": email, "password": password, "first_name": "Pat", "phone": "+1"},
        format="json",
    ).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {signup['token']}"}
    customer_id = signup["customer"]["id"]
    api.post(f"{ME}/addresses", {"city": "Lyon"}, format="json", **auth)
    assert medusa_customer(medusa_db, customer_id)["email"] == email
    assert len(medusa_addresses(medusa_db, customer_id)) == 1

    answer = api.delete(ME, {"password": password}, format="json", **auth)

    assert answer.status_code == 200
    row = medusa_customer(medusa_db, customer_id)
    assert row is not None  # kept for Medusa's orders
    assert row["deleted_at"] is not None
    assert [
        row[column]
        for column in ("email", "first_name", "last_name", "phone", "company_name")
    ] == [None] * 5
    assert row["metadata"] is None
    assert medusa_addresses(medusa_db, customer_id) == []

    # The address signs up again: a new customer in Medusa beside the
    # erased row (Medusa's unique email index ignores deleted rows).
    again = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    )
    assert again.status_code == 200
    assert medusa_customer(medusa_db, again.json()["customer"]["id"])["email"] == email
