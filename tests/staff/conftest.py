import pytest
from django.contrib.auth.models import Group, Permission, User

from orphans.support import SUPPORT_GROUP, support_group_install

LOGIN = "/admin/login/"
# A page Support may read: reaching it means a working admin session.
SUPPORT_PAGE = "/admin/orphans/orphan/"
STAFF_PASSWORD = "staff-pw-for-tests-only"  # noqa: S105


@pytest.fixture
def support_staff(db) -> User:
    # A live test's flush may have dropped the group its migration made.
    support_group_install(Group, Permission)
    user = User.objects.create_user(
        "support.staff", password=STAFF_PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root.staff", password=STAFF_PASSWORD)


def login(client, username: str, password: str, *, ip="198.51.100.7"):
    """Submit the admin's login form as a browser at `ip` would."""
    data = {"username": username, "password": password, "next": "/admin/"}
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


def reaches_admin(client) -> bool:
    response = client.get(SUPPORT_PAGE)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200
