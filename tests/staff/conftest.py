import io
import re
import time
from base64 import b32decode

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from ops.support import SUPPORT_GROUP, support_group_install

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


def login(client, username: str, password: str, *, code=None, ip="198.51.100.7"):
    """Submit the admin's login form as a browser at `ip` would."""
    data = {"username": username, "password": password, "next": "/admin/"}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


def reaches_admin(client) -> bool:
    response = client.get(SUPPORT_PAGE)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def enrol(username: str, *args: str) -> tuple[bytes, str]:
    """`staff_totp enrol` as an engineer runs it: the secret the staff
    member's authenticator app takes from its output, and the output."""
    out = io.StringIO()
    call_command("staff_totp", "enrol", username, "--no-qr", *args, stdout=out)
    printed = out.getvalue()
    secret = re.search(r"^secret: ([A-Z2-7=]+)$", printed, re.MULTILINE).group(1)
    return b32decode(secret), printed


def code_for(key: bytes) -> str:
    """The code an authenticator app with `key` shows now (RFC 6238: SHA-1,
    30 s steps, 6 digits, as the issued URI says)."""
    from django_otp.oath import TOTP

    totp = TOTP(key, step=30, digits=6)
    totp.time = time.time()
    return f"{totp.token():06d}"


def another_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"
