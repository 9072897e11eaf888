"""Fixtures of the end-to-end tests."""

import pytest

from tests.e2e.medusa_server import medusa_server_from_env


@pytest.fixture(scope="session")
def medusa():
    """The real Medusa that ./dev test starts (tests/e2e/medusa_server.py)."""
    server = medusa_server_from_env()
    yield server
    server.close()
