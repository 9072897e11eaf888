"""A Medusa 2.21 database for import tests, written the way Medusa writes it
(docs/medusa-contract.md, "Medusa's tables" and "Password hashes"): ids
`authid_`/`cus_`/bare ULID, entity_id verbatim, the link only in
app_metadata.customer_id, passwords as base64 scrypt-kdf blobs in
provider_metadata.password, addresses `cuaddr_` with at most one default of
each kind per customer."""

import functools
import json
import os
import time
from datetime import UTC, datetime, timedelta

import jwt
import psycopg
from django.conf import settings
from psycopg.rows import dict_row
from ulid import ULID

from accounts.hashers import medusa_scrypt_blob


@functools.cache
def medusa_hash(password: str) -> str:
    """scrypt-kdf logN 15, r 8, p 1, as @medusajs/auth-emailpass stores it.
    Cached per password: 100 ms of scrypt per row would dominate the suite."""
    return medusa_scrypt_blob(password, salt=os.urandom(32))


def medusa_claims(*, auth_identity_id: str, customer_id: str = "") -> dict:
    """generateJwtTokenForAuthIdentity's claims, in its order (iat and exp
    are added by the signer)."""
    return {
        "actor_id": customer_id,
        "actor_type": "customer",
        "auth_identity_id": auth_identity_id,
        "auth_provider": "emailpass",
        "mfa_enabled": False,
        "mfa_challenge_completed_at": None,
        "app_metadata": {"customer_id": customer_id} if customer_id else {},
        "user_metadata": {},
    }


def medusa_sign(claims: dict) -> str:
    """PyJWT standing in for Medusa's jsonwebtoken.sign (same HS256 bytes)."""
    now = int(time.time())
    payload = {**claims, "iat": now, "exp": now + 86400}
    return jwt.encode(payload, settings.JWT_SECRET, algorithm="HS256")


ADDRESS_COLUMNS = (
    "address_name", "company", "first_name", "last_name", "address_1",
    "address_2", "city", "country_code", "province", "postal_code", "phone",
    "is_default_shipping", "is_default_billing", "metadata",
)  # fmt: skip
DEFAULT_FLAGS = ("is_default_shipping", "is_default_billing")


class MedusaShop:
    """Rows in a Medusa database; each method mirrors a Medusa flow."""

    def __init__(self, url: str, hasher=medusa_hash, signer=medusa_sign):
        self.url = url
        self.hasher = hasher
        self.signer = signer
        self.conn = psycopg.connect(url, autocommit=True)
        # Recent enough that only rows made older on purpose are sweepable.
        self.clock = datetime.now(UTC) - timedelta(hours=2)

    def close(self) -> None:
        self.conn.close()

    def tick(self) -> datetime:
        """Strictly increasing timestamps: import order follows created_at."""
        self.clock += timedelta(seconds=1)
        return self.clock

    def execute(self, sql: str, params=()) -> None:
        self.conn.execute(sql, params)

    def register(self, email: str, password: str, *, at=None) -> str:
        """POST /auth/customer/emailpass/register: an identity, no customer."""
        at = at or self.tick()
        identity_id = f"authid_{ULID()}"
        self.execute(
            "INSERT INTO auth_identity (id, app_metadata, created_at, updated_at) "
            "VALUES (%s, NULL, %s, %s)",
            [identity_id, at, at],
        )
        self.provider_add(identity_id, "emailpass", email, self.hasher(password), at)
        return identity_id

    def provider_add(
        self, identity_id, provider, entity_id, blob, at=None, user_metadata=None
    ) -> str:
        at = at or self.tick()
        provider_id = str(ULID())
        metadata = json.dumps({"password": blob}) if blob is not None else None
        user = json.dumps(user_metadata) if user_metadata is not None else None
        self.execute(
            "INSERT INTO provider_identity (id, entity_id, provider, auth_identity_id, "
            "provider_metadata, user_metadata, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [provider_id, entity_id, provider, identity_id, metadata, user, at, at],
        )
        return provider_id

    def _identity_add(self, at) -> str:
        identity_id = f"authid_{ULID()}"
        self.execute(
            "INSERT INTO auth_identity (id, app_metadata, created_at, updated_at) "
            "VALUES (%s, NULL, %s, %s)",
            [identity_id, at, at],
        )
        return identity_id

    def google_signup(self, sub: str, email: str) -> tuple[str, str]:
        """A customer who signed up with Google (@medusajs/auth-google: the
        subject as entity_id, the profile in user_metadata), then POST
        /store/customers: (auth identity id, customer id)."""
        at = self.tick()
        identity_id = self._identity_add(at)
        profile = {"name": "Gee User", "email": email, "given_name": "Gee"}
        self.provider_add(identity_id, "google", sub, None, at, user_metadata=profile)
        customer_id = self.customer_add(email)
        self.link(identity_id, customer_id)
        return identity_id, customer_id

    def github_signup(self, user_id: int, email: str | None) -> tuple[str, str]:
        """A customer who signed up with GitHub (@medusajs/auth-github: the
        numeric user id as entity_id, `GET /user`'s profile and public
        email in user_metadata, the access and refresh tokens in
        provider_metadata), then POST /store/customers with an address
        (the public one, or what the customer typed): (auth identity id,
        customer id)."""
        at = self.tick()
        identity_id = self._identity_add(at)
        profile = {
            "profile_url": f"https://api.github.com/users/u{user_id}",
            "avatar": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "email": email,
            "name": "Hub User",
            "company": None,
            "two_factor_authentication": False,
        }
        tokens = {
            "access_token": "gho_medusakeptthis",
            "refresh_token": "ghr_medusakeptthistoo",
            "access_token_expires_at": "2026-01-01T00:00:00.000Z",
            "refresh_token_expires_at": "2026-07-01T00:00:00.000Z",
        }
        self.execute(
            "INSERT INTO provider_identity (id, entity_id, provider, auth_identity_id, "
            "provider_metadata, user_metadata, created_at, updated_at) "
            "VALUES (%s, %s, 'github', %s, %s, %s, %s, %s)",
            [
                str(ULID()), str(user_id), identity_id,
                json.dumps(tokens), json.dumps(profile), at, at,
            ],
        )  # fmt: skip
        customer_id = self.customer_add(email or f"typed.{user_id}@example.com")
        self.link(identity_id, customer_id)
        return identity_id, customer_id

    def customer_add(self, email, *, has_account=True, at=None, **profile) -> str:
        at = at or self.tick()
        customer_id = f"cus_{ULID()}"
        self.execute(
            "INSERT INTO customer (id, email, first_name, last_name, phone, "
            "company_name, has_account, metadata, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                customer_id, email, profile.get("first_name"),
                profile.get("last_name"), profile.get("phone"),
                profile.get("company_name"), has_account,
                json.dumps(profile["metadata"]) if "metadata" in profile else None,
                at, at,
            ],
        )  # fmt: skip
        return customer_id

    def link(self, identity_id: str, customer_id: str, at=None) -> None:
        """create-customer-account's set-auth-app-metadata step."""
        self.execute(
            "UPDATE auth_identity SET app_metadata = %s, updated_at = %s WHERE id = %s",
            [json.dumps({"customer_id": customer_id}), at or self.tick(), identity_id],
        )

    def signup(self, email: str, password: str, **profile) -> tuple[str, str]:
        """Register, then POST /store/customers: (auth identity id, customer id)."""
        identity_id = self.register(email, password)
        customer_id = self.customer_add(email, **profile)
        self.link(identity_id, customer_id)
        return identity_id, customer_id

    def password_change(self, identity_id: str, password: str) -> None:
        """POST /auth/customer/emailpass/update."""
        self.execute(
            "UPDATE provider_identity SET provider_metadata = %s, updated_at = %s "
            "WHERE auth_identity_id = %s AND provider = 'emailpass'",
            [json.dumps({"password": self.hasher(password)}), self.tick(), identity_id],
        )

    def address_add(self, customer_id: str, *, at=None, **columns) -> str:
        """POST /store/customers/me/addresses: country_code stored as sent;
        a flag sent true is first cleared on the customer's other addresses
        (unset-address-for-create)."""
        at = at or self.tick()
        address_id = f"cuaddr_{ULID()}"
        values = {"address_1": "Vesterbrogade 1", "city": "København",
                  "country_code": "dk", **columns}  # fmt: skip
        self._defaults_unset(customer_id, address_id, values, at)
        names = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        self.execute(
            f"INSERT INTO customer_address (id, customer_id, {names}, "  # noqa: S608
            f"created_at, updated_at) VALUES (%s, %s, {marks}, %s, %s)",
            [address_id, customer_id, *self._encoded(values), at, at],
        )
        return address_id

    def address_update(self, address_id: str, *, at=None, **columns) -> None:
        """POST /store/customers/me/addresses/:id (metadata replaced whole)."""
        at = at or self.tick()
        [customer_id] = self.conn.execute(
            "SELECT customer_id FROM customer_address WHERE id = %s", [address_id]
        ).fetchone()
        self._defaults_unset(customer_id, address_id, columns, at)
        assignments = ", ".join(f"{name} = %s" for name in columns)
        self.execute(
            f"UPDATE customer_address SET {assignments}, updated_at = %s "  # noqa: S608
            "WHERE id = %s",
            [*self._encoded(columns), at, address_id],
        )

    def _defaults_unset(self, customer_id, address_id, columns, at) -> None:
        assert set(columns) <= set(ADDRESS_COLUMNS), columns
        for flag in DEFAULT_FLAGS:
            if columns.get(flag):
                self.execute(
                    f"UPDATE customer_address SET {flag} = false, updated_at = %s "  # noqa: S608
                    f"WHERE customer_id = %s AND {flag} AND id <> %s",
                    [at, customer_id, address_id],
                )

    @staticmethod
    def _encoded(columns: dict) -> list:
        return [
            json.dumps(value) if name == "metadata" and value is not None else value
            for name, value in columns.items()
        ]

    def addresses(self, customer_id: str) -> list[dict]:
        """The customer's rows, every column, by id."""
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(
                "SELECT * FROM customer_address WHERE customer_id = %s ORDER BY id",
                [customer_id],
            )
            return cursor.fetchall()

    def token(self, *, auth_identity_id: str, customer_id: str = "") -> str:
        """A token as Medusa issues it at login (or registration, without a
        customer), signed with the JWT_SECRET both servers share."""
        return self.signer(
            medusa_claims(auth_identity_id=auth_identity_id, customer_id=customer_id)
        )

    def ids(self, table: str) -> list[str]:
        query = f"SELECT id FROM {table}"  # noqa: S608  (a table name we chose)
        return [row[0] for row in self.conn.execute(query)]

    def soft_delete(self, table: str, row_id: str) -> None:
        self.execute(
            f"UPDATE {table} SET deleted_at = %s WHERE id = %s",  # noqa: S608
            [self.tick(), row_id],
        )
