"""The Support group holds exactly the permissions its work needs."""

import pytest

pytestmark = pytest.mark.django_db


def test_support_group_has_exactly_the_needed_permissions():
    from django.contrib.auth.models import Group

    from ops.support import SUPPORT_PERMISSIONS

    codenames = set(
        Group.objects.get(name="Support").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert codenames == set(SUPPORT_PERMISSIONS)
    assert ("accounts", "change_customer") not in codenames
