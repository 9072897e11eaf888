"""The address book routes, from outside: /store/customers/me/addresses[/id]
(Medusa 2.21's bodies, answers and messages; docs/api.md)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.test import APIClient

from accounts.models import Customer, CustomerAddress
from tests.factories import customer_create, token_for

pytestmark = pytest.mark.django_db

BASE = "/store/customers/me/addresses"
ADDRESS_KEYS = [
    "id",
    "address_name",
    "company",
    "customer_id",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "province",
    "postal_code",
    "country_code",
    "phone",
    "metadata",
    "is_default_shipping",
    "is_default_billing",
    "created_at",
    "updated_at",
]
HOME = {
    "address_name": "Home",
    "first_name": "Pat",
    "last_name": "Probe",
    "address_1": "1 Main Street",
    "city": "Copenhagen",
    "country_code": "DK",
    "postal_code": "1050",
    "phone": "+4511111111",
    "metadata": {"door": "blue"},
}


@pytest.fixture
def customer(email):
    return customer_create(email=email, first_name="Pat")


@pytest.fixture
def client(api, customer):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}")
    return api


def create(client, body, path=BASE):
    return client.post(path, body, format="json")


def added(client, body) -> dict:
    response = create(client, body)
    assert response.status_code == 200, response.json()
    return response.json()["customer"]["addresses"][-1]


def test_create_answers_the_customer_with_its_addresses(client, customer):
    response = create(client, HOME)

    assert response.status_code == 200
    body = response.json()["customer"]
    assert body["id"] == customer.id
    (address,) = body["addresses"]
    assert list(address) == ADDRESS_KEYS
    assert address["id"].startswith("cuaddr_")
    assert len(address["id"]) == len("cuaddr_") + 26
    assert address["customer_id"] == customer.id
    assert address["country_code"] == "dk"  # stored lower-case
    assert address["metadata"] == {"door": "blue"}
    assert address["is_default_shipping"] is False
    assert address["company"] is None
    assert address["created_at"].endswith("Z")
    row = CustomerAddress.objects.get(id=address["id"])
    assert (row.customer_id, row.city, row.country_code) == (
        customer.id,
        "Copenhagen",
        "dk",
    )


def test_an_empty_body_makes_an_empty_address(client):
    address = added(client, {})

    assert address["address_1"] is None
    assert address["country_code"] is None


def test_retrieve_and_fields(client):
    address = added(client, HOME)

    whole = client.get(f"{BASE}/{address['id']}")
    some = client.get(f"{BASE}/{address['id']}?fields=city,country_code")
    minus = client.get(f"{BASE}/{address['id']}?fields=-metadata,-phone")

    assert whole.status_code == 200
    assert whole.json() == {"address": address}
    assert some.json() == {
        "address": {"id": address["id"], "city": "Copenhagen", "country_code": "dk"}
    }
    assert "metadata" not in minus.json()["address"]
    assert "phone" not in minus.json()["address"]
    assert "city" in minus.json()["address"]


def test_another_customers_address_is_not_found(client, api):
    other = customer_create(email="other.customer@example.com")
    theirs = CustomerAddress.objects.create(customer=other, city="Oslo")
    before = CustomerAddress.objects.get(id=theirs.id).updated_at
    not_found = {
        "type": "not_found",
        "message": f"Address with id: {theirs.id} was not found",
    }

    read = client.get(f"{BASE}/{theirs.id}")
    update = client.post(f"{BASE}/{theirs.id}", {"city": "Mine"}, format="json")
    delete = client.delete(f"{BASE}/{theirs.id}")

    for response in (read, update, delete):
        assert (response.status_code, response.json()) == (404, not_found)
    row = CustomerAddress.objects.get(id=theirs.id)
    assert (row.city, row.updated_at) == ("Oslo", before)


@pytest.mark.parametrize("address_id", ["cuaddr_nope", "x" * 300, "a%00b"])
def test_unknown_ids_are_404(client, address_id):
    response = client.get(f"{BASE}/{address_id}")

    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


def test_update_keeps_omitted_clears_nulls_and_merges_metadata(client, customer):
    address = added(client, {**HOME, "metadata": {"door": "blue", "floor": 2}})

    response = client.post(
        f"{BASE}/{address['id']}",
        {"city": "Aarhus", "phone": None, "metadata": {"door": "", "bell": "yes"}},
        format="json",
    )

    assert response.status_code == 200
    (updated,) = response.json()["customer"]["addresses"]
    assert updated["city"] == "Aarhus"
    assert updated["phone"] is None
    assert updated["address_1"] == "1 Main Street"
    assert updated["metadata"] == {"floor": 2, "bell": "yes"}
    assert updated["updated_at"] >= address["updated_at"]
    assert updated["created_at"] == address["created_at"]


def test_setting_a_default_clears_it_on_the_others(client, customer):
    first = added(client, {**HOME, "is_default_shipping": True})
    second = added(client, {"city": "Aarhus", "is_default_billing": True})

    third = create(client, {"city": "Odense", "is_default_shipping": True})
    flags = {
        row.id: (row.is_default_shipping, row.is_default_billing)
        for row in CustomerAddress.objects.filter(customer=customer)
    }

    assert third.status_code == 200
    new = third.json()["customer"]["addresses"][-1]
    assert flags == {
        first["id"]: (False, False),
        second["id"]: (False, True),
        new["id"]: (True, False),
    }

    moved = client.post(
        f"{BASE}/{first['id']}", {"is_default_billing": True}, format="json"
    )
    unset = client.post(
        f"{BASE}/{new['id']}", {"is_default_shipping": False}, format="json"
    )

    assert moved.status_code == unset.status_code == 200
    assert list(
        CustomerAddress.objects.filter(
            customer=customer, is_default_billing=True
        ).values_list("id", flat=True)
    ) == [first["id"]]
    assert not CustomerAddress.objects.filter(
        customer=customer, is_default_shipping=True
    ).exists()


def test_setting_the_flag_on_the_default_itself_keeps_it(client, customer):
    address = added(client, {"is_default_shipping": True})

    again = client.post(
        f"{BASE}/{address['id']}", {"is_default_shipping": True}, format="json"
    )

    assert again.status_code == 200
    assert CustomerAddress.objects.get(id=address["id"]).is_default_shipping


def test_delete_answers_medusas_envelope(client, customer):
    keep = added(client, {"city": "Aarhus"})
    gone = added(client, HOME)

    response = client.delete(f"{BASE}/{gone['id']}")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["id", "object", "deleted", "parent"]
    assert body["id"] == customer.id  # Medusa: the customer's id
    assert (body["object"], body["deleted"]) == ("address", True)
    assert body["parent"]["id"] == customer.id
    assert [a["id"] for a in body["parent"]["addresses"]] == [keep["id"]]
    assert not CustomerAddress.objects.filter(id=gone["id"]).exists()
    again = client.delete(f"{BASE}/{gone['id']}")
    assert again.status_code == 404


def test_list_pages_and_counts(client):
    ids = [added(client, {"city": f"City {n}"})["id"] for n in range(5)]

    default = client.get(BASE).json()
    page = client.get(f"{BASE}?limit=2&offset=1").json()
    newest_first = client.get(f"{BASE}?order=-created_at&fields=id").json()

    assert (default["count"], default["offset"], default["limit"]) == (5, 0, 50)
    assert [a["id"] for a in default["addresses"]] == ids
    assert list(default["addresses"][0]) == ADDRESS_KEYS
    assert page["count"] == 5
    assert (page["offset"], page["limit"]) == (1, 2)
    assert [a["id"] for a in page["addresses"]] == ids[1:3]
    assert newest_first["addresses"] == [{"id": i} for i in reversed(ids)]


def test_list_filters(client):
    home = added(client, HOME)
    work = added(
        client,
        {
            "address_name": "Work",
            "company": "Acme ApS",
            "address_1": "2 Harbour Road",
            "city": "Aarhus",
            "country_code": "dk",
            "postal_code": "8000",
        },
    )
    abroad = added(
        client, {"city": "Oslo", "country_code": "no", "postal_code": "0150"}
    )

    def ids(query: str) -> list[str]:
        response = client.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["count"] == len(body["addresses"])
        return [a["id"] for a in body["addresses"]]

    assert ids("city=Aarhus") == [work["id"]]
    assert ids("country_code=DK") == [home["id"], work["id"]]
    assert ids("country_code[0]=no&country_code[1]=dk") == [
        home["id"],
        work["id"],
        abroad["id"],
    ]
    assert ids("postal_code=0150&postal_code=8000") == [work["id"], abroad["id"]]
    assert ids("q=acme") == [work["id"]]
    assert ids("q=harbour%20AARHUS") == [work["id"]]
    assert ids("q=harbour%20oslo") == []
    assert ids("q=%25") == []  # a wildcard is a character, not "anything"
    assert ids("q=main&city=Aarhus") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("foo=bar", "Invalid request: Unrecognized fields: 'foo'"),
        (
            "limit=abc",
            "Invalid request: Expected type: 'number' for field 'limit', got: 'abc'",
        ),
        (
            "offset=-1",
            "Invalid request: Expected type: 'number' for field 'offset', got: '-1'",
        ),
        (
            "limit=99999999999",
            "Invalid request: Value for field 'limit' too big, expected at most: "
            "'2147483647'",
        ),
        ("order=password", "Order field password is not valid"),
        (
            "q=" + "a" * 201,
            "Invalid request: Value for field 'q' too big, expected at most: '200'",
        ),
        (
            "q=a&q=b",
            "Invalid request: Expected type: 'string' for field 'q', got: 'a,b'",
        ),
        (
            "city=a%00b",
            "Invalid request: text contains characters that are not allowed",
        ),
        (
            "with_deleted=maybe",
            "Invalid request: Expected type: 'boolean' for field 'with_deleted', "
            "got: 'maybe'",
        ),
    ],
)
def test_list_refuses_bad_queries(client, query, message):
    response = client.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert response.json() == {"type": "invalid_data", "message": message}


WRONG = "Invalid request: Expected type: '{kind}' for field '{field}', got: '{got}'"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "x@example.com"}, "Invalid request: Unrecognized fields: 'email'"),
        ({"city": 12}, WRONG.format(kind="string", field="city", got="12")),
        (
            {"is_default_shipping": None},
            WRONG.format(kind="boolean", field="is_default_shipping", got="null"),
        ),
        (
            {"is_default_billing": "true"},
            WRONG.format(kind="boolean", field="is_default_billing", got="true"),
        ),
        ({"metadata": [1]}, WRONG.format(kind="record", field="metadata", got="1")),
        (
            {"country_code": "usa"},
            "Invalid request: Invalid country code for field 'country_code': "
            "expected two letters (ISO 3166-1 alpha-2), got: 'usa'",
        ),
        (
            {"country_code": ""},
            "Invalid request: Invalid country code for field 'country_code': "
            "expected two letters (ISO 3166-1 alpha-2), got: ''",
        ),
        (
            {"country_code": "1x"},
            "Invalid request: Invalid country code for field 'country_code': "
            "expected two letters (ISO 3166-1 alpha-2), got: '1x'",
        ),
        (
            {"city": "x" * 256},
            "Invalid request: Value for field 'city' too big, expected at most: '255'",
        ),
        (
            {"city": "a\u0000b"},
            "Invalid request: text contains characters that are not allowed",
        ),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(client, customer, body, message):
    address = added(client, HOME)

    created = create(client, body)
    updated = client.post(f"{BASE}/{address['id']}", body, format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert response.json() == {"type": "invalid_data", "message": message}
    (row,) = CustomerAddress.objects.filter(customer=customer)
    assert (row.city, row.country_code, row.updated_at.isoformat()[:23]) == (
        "Copenhagen",
        "dk",
        address["updated_at"].replace("Z", "")[:23],
    )


def test_null_clears_on_create_too(client):
    address = added(client, {"city": None, "metadata": None, "country_code": None})

    assert (address["city"], address["metadata"]) == (None, None)


@override_settings(ADDRESSES_PER_CUSTOMER_MAX=3)
def test_the_address_book_is_bounded(client, customer):
    for n in range(3):
        added(client, {"city": f"City {n}"})

    response = create(client, {"city": "One too many"})

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "A customer can have at most 3 addresses",
    }
    assert CustomerAddress.objects.filter(customer=customer).count() == 3
    first = CustomerAddress.objects.filter(customer=customer).first()
    client.delete(f"{BASE}/{first.id}")
    assert create(client, {"city": "Room again"}).status_code == 200


def test_routes_need_a_customer_token(api, customer):
    address = CustomerAddress.objects.create(customer=customer, city="Oslo")
    bare = APIClient()

    no_key = bare.get(BASE)
    no_token = [
        api.get(BASE),
        api.post(BASE, {}, format="json"),
        api.get(f"{BASE}/{address.id}"),
        api.post(f"{BASE}/{address.id}", {}, format="json"),
        api.delete(f"{BASE}/{address.id}"),
    ]

    assert no_key.status_code == 400
    assert no_key.json()["type"] == "not_allowed"
    for response in no_token:
        assert (response.status_code, response.json()) == (
            401,
            {"message": "Unauthorized"},
        )
    assert CustomerAddress.objects.get(id=address.id).city == "Oslo"


def test_a_registration_token_has_no_address_book(api, email, password):
    token = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    ).json()["token"]

    response = api.post(BASE, HOME, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert not CustomerAddress.objects.exists()


def test_me_shows_addresses_and_their_fields(client, customer):
    home = added(client, HOME)
    work = added(client, {"city": "Aarhus", "is_default_billing": True})

    whole = client.get("/store/customers/me").json()["customer"]
    city = client.get("/store/customers/me?fields=addresses.city").json()["customer"]
    starred = client.get("/store/customers/me?fields=*addresses").json()["customer"]
    without = client.get("/store/customers/me?fields=-addresses").json()["customer"]
    plus = client.get(
        "/store/customers/me?fields=id,email,addresses.city,addresses.password"
    ).json()["customer"]

    assert [a["id"] for a in whole["addresses"]] == [home["id"], work["id"]]
    assert whole["addresses"][1]["is_default_billing"] is True
    assert list(whole["addresses"][0]) == ADDRESS_KEYS
    assert city == {
        "id": customer.id,
        "addresses": [
            {"id": home["id"], "city": "Copenhagen"},
            {"id": work["id"], "city": "Aarhus"},
        ],
    }
    assert starred["addresses"] == whole["addresses"]
    assert "email" in starred
    assert "addresses" not in without
    assert list(plus) == ["id", "email", "addresses"]
    assert plus["addresses"][0] == {"id": home["id"], "city": "Copenhagen"}


def test_me_reads_its_addresses_with_the_token_in_one_statement(client, customer):
    """The token's identity, customer, session and addresses: one statement
    (accounts/selectors.py, `auth_identity_for_claims`), whatever `fields`."""
    made = [
        CustomerAddress.objects.create(customer=customer, city=f"City {n}")
        for n in range(10)
    ]
    client.get("/store/customers/me")  # the publishable key is cached now

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/store/customers/me")
    whole = len(queries)
    with CaptureQueriesContext(connection) as queries:
        client.get("/store/customers/me?fields=-addresses")

    listed = response.json()["customer"]["addresses"]
    assert [a["id"] for a in listed] == sorted(a.id for a in made)
    assert [a["city"] for a in listed] == [
        a.city for a in sorted(made, key=lambda a: a.id)
    ]
    assert whole == len(queries) == 1


def test_me_without_addresses_lists_none(client, customer):
    response = client.get("/store/customers/me")

    assert response.status_code == 200
    assert response.json()["customer"]["addresses"] == []


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("fields=", ["id"]),  # Medusa: an empty selection keeps only the id
        ("fields=+orders", None),  # the URL's + is a space: adds, as Medusa's
        ("fields=id,*addresses", ["id", "addresses"]),
        ("fields=-addresses.city", None),  # removes only that: addresses stay
    ],
)
def test_me_fields_follow_medusas_parser(client, query, keys):
    added(client, HOME)

    body = client.get(f"/store/customers/me?{query}").json()["customer"]

    if keys is not None:
        assert list(body) == keys
    else:
        assert "email" in body
        assert list(body["addresses"][0]) == ADDRESS_KEYS


def test_a_database_failure_mid_write_answers_503_and_writes_nothing(client, customer):
    from tests.db_faults import refusing_trigger

    old = added(client, {"city": "Oslo", "is_default_shipping": True})

    # Clearing the old default fails: the new address must not stay either.
    with refusing_trigger(
        table="accounts_customeraddress", event="UPDATE", when="OLD.is_default_shipping"
    ):
        response = create(client, {"city": "Aarhus", "is_default_shipping": True})

    assert response.status_code == 503
    assert response.json()["type"] == "unavailable"
    assert response["Retry-After"] == "5"  # nothing was written: try again
    rows = list(CustomerAddress.objects.filter(customer=customer))
    assert [(row.id, row.is_default_shipping) for row in rows] == [(old["id"], True)]


def test_other_customer_answers_carry_the_addresses(api, email, password):
    from django.utils import timezone

    from otp.services import otp_challenge_replace

    signed = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    )
    token = signed.json()["token"]
    added_address = api.post(
        BASE, HOME, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    otp_challenge_replace(email=email, code="246810", now=timezone.now())

    verified = api.post(
        "/store/auth/otp/verify", {"email": email, "code": "246810"}, format="json"
    )

    assert signed.json()["customer"]["addresses"] == []
    assert verified.status_code == 200
    assert (
        verified.json()["customer"]["addresses"]
        == (added_address.json()["customer"]["addresses"])
    )


def test_a_deleted_customers_address_book_is_gone(client, customer):
    """As GET /store/customers/me and every address write: 404 once the
    customer is soft-deleted, never its addresses."""
    from django.utils import timezone

    address = added(client, HOME)
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())

    listed = client.get(BASE)
    read = client.get(f"{BASE}/{address['id']}")

    message = f"Customer with id: {customer.id} was not found"
    assert (listed.status_code, listed.json()["message"]) == (404, message)
    assert (read.status_code, read.json()["message"]) == (404, message)
