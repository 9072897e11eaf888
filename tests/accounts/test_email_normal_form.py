"""One mailbox, one account, on every route: an address is normalized
(whitespace, case, the domain's IDNA ASCII form) before it is validated or
looked up, and what is no address of a DNS domain is refused."""

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction

from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from otp.models import OtpChallenge
from tests.factories import (
    customer_create,
    fullwidth_domain,
    identity_create,
    profile_create,
    registration_token,
)

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"
SIGNUP = "/store/auth/signup"
OTP_SEND = "/store/auth/otp/send"
RESET = "/auth/customer/emailpass/reset-password"

# Not an address here (docs/api.md, "E-mail addresses"): IP literals, bare IPs, hosts
# without a dot, what IDNA 2008 refuses (a symbol, broken Punycode), and
# non-ASCII local parts (no SMTPUTF8).
REFUSED = [
    "user@[127.0.0.1]",
    "user@[IPv6:::1]",
    "user@127.0.0.1",
    "user@localhost",
    "user@\u2603.example.com",
    "user@xn--abc.example.com",
    "j\u00fcrgen@example.com",
]


def actor_id(token: str) -> str:
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])["actor_id"]


def rows() -> tuple[int, ...]:
    return (
        AuthIdentity.objects.count(),
        ProviderIdentity.objects.count(),
        Customer.objects.count(),
        OtpChallenge.objects.count(),
    )


def look_alikes(email: str) -> list[str]:
    local, domain = email.split("@")
    soft_hyphen = domain.replace("ample", "am\u00adple")
    ideographic_stop = domain.replace(".", "\u3002")
    return [
        fullwidth_domain(email),
        f"{local}@{soft_hyphen}",
        f"{local}@{ideographic_stop}",
        f"\u00a0{email.upper()}\u3000",  # Unicode whitespace around
    ]


@pytest.mark.parametrize(
    "typed",
    [
        lambda email: f"  {email.title()} ",
        lambda email: f"\u00a0{email.upper()}\u3000",
        lambda email: f" {fullwidth_domain(email)}",
    ],
    ids=["spaces-and-caps", "unicode-spaces", "full-width-domain"],
)
def test_the_form_value_passed_to_both_signup_calls_gives_one_customer(
    api, email, password, typed
):
    raw = typed(email)
    token = registration_token(api, raw, password)

    response = profile_create(api, token, raw)

    assert response.status_code == 200, response.content
    customer = response.json()["customer"]
    assert customer["email"] == email
    assert list(Customer.objects.filter(email=email).values_list("id", flat=True)) == [
        customer["id"]
    ]
    assert not AuthIdentity.objects.filter(customer__isnull=True).exists()  # no orphan
    login = api.post(LOGIN, {"email": email, "password": password}, format="json")
    assert actor_id(login.json()["token"]) == customer["id"]


@pytest.mark.parametrize("variant", range(4))
def test_a_look_alike_of_the_address_logs_into_the_account(
    api, email, password, variant
):
    customer = customer_create(email=email, password=password)

    response = api.post(
        LOGIN,
        {"email": look_alikes(email)[variant], "password": password},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert actor_id(response.json()["token"]) == customer.id


@pytest.mark.parametrize("variant", range(4))
def test_a_look_alike_of_the_address_cannot_register_a_second_account(
    api, email, password, variant
):
    customer_create(email=email, password=password)
    before = rows()

    response = api.post(
        REGISTER,
        {"email": look_alikes(email)[variant], "password": "another long passphrase"},
        format="json",
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Identity with email already exists"
    assert rows() == before


def test_a_unicode_domain_and_its_punycode_are_one_address(api, password):
    token = registration_token(api, "Kim@B\u00fccher.Example", password)

    created = profile_create(api, token, "kim@xn--bcher-kva.example")
    login = api.post(
        LOGIN,
        {"email": "kim@b\u00fccher.example", "password": password},
        format="json",
    )

    assert created.status_code == 200, created.content
    assert created.json()["customer"]["email"] == "kim@xn--bcher-kva.example"
    assert actor_id(login.json()["token"]) == created.json()["customer"]["id"]


def test_one_step_signup_stores_the_ascii_form(api, email, password):
    response = api.post(
        SIGNUP,
        {"email": f" {fullwidth_domain(email).upper()} ", "password": password},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["email"] == email
    assert (
        ProviderIdentity.objects.get(
            auth_identity__customer_id=response.json()["customer"]["id"]
        ).entity_id
        == email
    )


def test_a_reset_asked_for_a_look_alike_is_mailed_to_the_account(
    api, email, password, django_capture_on_commit_callbacks
):
    customer_create(email=email, password=password)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            RESET,
            {"identifier": f" {fullwidth_domain(email).upper()}\u00a0"},
            format="json",
        )

    assert response.status_code == 201
    assert [message.to for message in mail.outbox] == [[email]]


@pytest.mark.parametrize("address", REFUSED)
@pytest.mark.parametrize(
    "path",
    [REGISTER, SIGNUP, OTP_SEND],
    ids=["register", "signup", "otp-send"],
)
def test_what_is_no_address_is_400_and_writes_nothing(api, password, address, path):
    body = {"email": address}
    if path != OTP_SEND:  # send's body is strict: the email only
        body["password"] = password
    before = rows()

    response = api.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid email address",
    }
    assert rows() == before
    assert mail.outbox == []


@pytest.mark.parametrize("address", REFUSED)
def test_the_profile_step_refuses_what_is_no_address(api, email, password, address):
    token = registration_token(api, email, password)

    response = profile_create(api, token, address)

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid request: Invalid email address",
    }
    assert not Customer.objects.exists()


@pytest.mark.parametrize("address", [*REFUSED, "not an address"])
def test_login_with_what_is_no_address_answers_as_an_unknown_account(
    api, email, password, address, monkeypatch
):
    """No oracle: the same answer and the same hashing work as an address
    nobody registered."""
    from accounts import hashers

    verified = []
    real_check_password = hashers.check_password

    def counting(*args, **kwargs):
        verified.append(1)
        return real_check_password(*args, **kwargs)

    monkeypatch.setattr(hashers, "check_password", counting)
    unknown = api.post(LOGIN, {"email": email, "password": password}, format="json")
    work_for_unknown = len(verified)
    refused = api.post(LOGIN, {"email": address, "password": password}, format="json")

    assert unknown.status_code == refused.status_code == 401
    assert refused.json() == unknown.json()
    assert work_for_unknown >= 1
    assert len(verified) - work_for_unknown == work_for_unknown


def test_the_database_keeps_stored_addresses_in_ascii(email):
    look_alike = fullwidth_domain(email)

    for constraint, make in [
        ("provid_entity_id_printable_ascii", lambda: identity_create(email=look_alike)),
        (
            "customer_registered_email_printable_ascii",
            lambda: Customer.objects.create(email=look_alike, has_account=True),
        ),
        (
            "provid_entity_id_printable_ascii",
            lambda: ProviderIdentity.objects.create(
                auth_identity=AuthIdentity.objects.create(),
                provider=Provider.EMAIL_OTP,
                entity_id=email.replace("@", "\t@"),
            ),
        ),
    ]:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            make()
    # A guest keeps the email as Medusa had it (no login reaches it).
    Customer.objects.create(email=look_alike.upper(), has_account=False)
