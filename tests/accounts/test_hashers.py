"""Imported Medusa scrypt-kdf hashes log in and are upgraded to Argon2id."""

import base64
import hashlib
import hmac
import os

import pytest

from accounts.hashers import medusa_scrypt_verify
from accounts.models import AuthIdentity, Provider, ProviderIdentity

pytestmark = pytest.mark.django_db


def medusa_scrypt_hash(password: str, log_n=15, r=8, p=1) -> str:
    """The reference implementation of medusa-contract.md section 8."""
    salt = os.urandom(32)
    head = b"scrypt" + bytes([0, log_n]) + r.to_bytes(4, "big") + p.to_bytes(4, "big")
    head += salt
    head += hashlib.sha256(head).digest()[:16]
    dk = hashlib.scrypt(
        password.encode(), salt=salt, n=2**log_n, r=r, p=p, maxmem=2**31 - 1, dklen=64
    )
    return base64.b64encode(
        head + hmac.new(dk[32:], head, hashlib.sha256).digest()
    ).decode()


def test_reference_hash_verifies():
    blob = medusa_scrypt_hash("pässword 1")

    assert blob.startswith("c2NyeXB0AA8AAAAIAAAAA")
    assert medusa_scrypt_verify("pässword 1", blob)
    assert not medusa_scrypt_verify("password 1", blob)
    assert not medusa_scrypt_verify("pässword 1", blob[:-4] + "AAAA")
    assert not medusa_scrypt_verify("pässword 1", "not base64!")


def test_imported_medusa_hash_logs_in_and_is_rehashed_with_argon2id(api, email):
    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash="medusa_scrypt$" + medusa_scrypt_hash("old medusa password"),
    )

    wrong = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "nope nope"},
        format="json",
    )
    assert wrong.status_code == 401
    assert ProviderIdentity.objects.get(entity_id=email).password_hash.startswith(
        "medusa_scrypt$"
    )

    response = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "old medusa password"},
        format="json",
    )

    assert response.status_code == 200
    upgraded = ProviderIdentity.objects.get(entity_id=email).password_hash
    assert upgraded.startswith("argon2$argon2id$")
    again = api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": "old medusa password"},
        format="json",
    )
    assert again.status_code == 200
