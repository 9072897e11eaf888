"""Prefixed, time-sortable ids in Medusa's shape: `<prefix>_<ULID>`."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


# Module-level callables, because migrations serialise field defaults by name.
def new_customer_id() -> str:
    return new_id("cus")


def new_auth_identity_id() -> str:
    return new_id("authid")


def new_provider_identity_id() -> str:
    return new_id("provid")


def new_reset_token_id() -> str:
    return new_id("authprt")


def new_api_key_id() -> str:
    return new_id("apk")


def new_customer_address_id() -> str:
    return new_id("cuaddr")


def new_login_session_id() -> str:
    return new_id("sess")
