"""Fixtures of the end-to-end tests."""

import pytest

from tests.e2e.medusa_server import medusa_server_from_env


@pytest.fixture(scope="session")
def medusa():
    """The real Medusa that ./dev test starts (tests/e2e/medusa_server.py)."""
    server = medusa_server_from_env()
    yield server
    server.close()


@pytest.fixture(scope="session")
def oidc():
    """The OpenID Connect provider that ./dev test starts, configured on
    the live stack as `google` (tests/e2e/oidc_provider.py)."""
    from tests.e2e.oidc_provider import oidc_provider_from_env

    return oidc_provider_from_env()
