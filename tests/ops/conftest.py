"""The Support staff member of tests/orphans/conftest.py, logged in."""

import pytest

from tests.orphans.conftest import support_user

__all__ = ["support", "support_user"]


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client
