"""Support staff in admin, through the test client: review, delete (with a
confirmation page, refusing linked identities), hold, sweep, dashboard."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import AuthIdentity
from orphans.models import OrphanDeletion, OrphanEvent, OrphanHold
from tests.factories import customer_create
from tests.orphans.conftest import OLD, YOUNG, orphan_create

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orphans/orphan/"


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def delete_action(client, ids, *, confirmed: bool):
    data = {"action": "delete_orphans", "_selected_action": ids}
    if confirmed:
        data["confirmed"] = "yes"
    return client.post(CHANGELIST, data)


def test_orphan_list_masks_emails_and_filters_by_age(support, email):
    old = orphan_create(email="old." + email, age=OLD)
    young = orphan_create(email="young." + email, age=YOUNG)
    customer_create(email="customer." + email)

    everything = support.get(CHANGELIST).content.decode()
    sweepable = support.get(CHANGELIST + "?age=sweepable").content.decode()

    assert old.id in everything
    assert young.id in everything
    assert "customer." not in everything
    assert "o***@" in everything
    assert "old." + email not in everything
    assert old.id in sweepable
    assert young.id not in sweepable


def test_delete_asks_for_confirmation_first(support, email):
    orphan = orphan_create(email=email, age=OLD)

    page = delete_action(support, [orphan.id], confirmed=False)

    assert page.status_code == 200
    assert b"Yes, delete 1 orphan" in page.content
    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()


def test_delete_of_an_orphan_is_done_and_audited(support, support_user, email):
    orphan = orphan_create(email=email, age=YOUNG)

    response = delete_action(support, [orphan.id], confirmed=True)

    assert response.status_code == 302
    assert not AuthIdentity.objects.filter(pk=orphan.pk).exists()
    row = OrphanDeletion.objects.get(auth_identity_id=orphan.id)
    assert row.trigger == "admin"
    assert row.staff_user == support_user
    assert row.staff_username == "support.agent"


def test_delete_is_refused_for_an_identity_that_gained_a_customer(support, email):
    orphan = orphan_create(email=email, age=OLD)
    page = delete_action(support, [orphan.id], confirmed=False)
    assert page.status_code == 200
    # The customer finishes the signup while the confirmation page is open.
    from django.utils import timezone

    from accounts import services

    services.customer_create_for_identity(
        auth_identity_id=orphan.id,
        profile=services.Profile(email=email),
        now=timezone.now(),
    )

    response = delete_action(support, [orphan.id], confirmed=True)

    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()
    assert not OrphanDeletion.objects.exists()
    followed = support.get(response["Location"])
    assert "Refused 1" in followed.content.decode()


def test_hold_and_release_are_audited_and_the_sweep_skips_held(support, email):
    from django.utils import timezone

    from orphans import services
    from orphans.models import Trigger
    from tests.orphans.conftest import DAY

    orphan = orphan_create(email=email, age=OLD)

    support.post(
        CHANGELIST, {"action": "hold_orphans", "_selected_action": [orphan.id]}
    )
    services.orphans_sweep(
        older_than=DAY, batch_size=10, trigger=Trigger.COMMAND, now=timezone.now()
    )

    assert OrphanHold.objects.filter(auth_identity=orphan).exists()
    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()
    assert LogEntry.objects.get(object_id=orphan.id).change_message == "Put on hold"
    support.post(
        CHANGELIST, {"action": "release_orphans", "_selected_action": [orphan.id]}
    )
    assert not OrphanHold.objects.exists()


def test_sweep_page_previews_without_deleting(support, email):
    orphan = orphan_create(email=email, age=OLD)

    page = support.get(reverse("admin:orphans_sweep"))

    assert page.status_code == 200
    assert b'id="sweepable-count">1<' in page.content
    assert orphan.id.encode() in page.content
    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()


def test_dashboard_renders_the_chart_with_data(support, email):
    from django.utils import timezone

    OrphanEvent.objects.create(
        auth_identity_id="authid_x", error="test", created_at=timezone.now()
    )
    OrphanEvent.objects.create(
        auth_identity_id="authid_y", error="test", created_at=timezone.now()
    )

    page = support.get(reverse("admin:orphans_dashboard"))

    assert page.status_code == 200
    content = page.content.decode()
    assert '<svg id="orphan-chart"' in content
    assert 'class="bar-created" data-value="2"' in content
    assert 'id="current-orphans"' in content


def test_admin_index_links_the_dashboard(support):
    assert b"Orphans dashboard" in support.get("/admin/").content


@pytest.mark.parametrize(
    "url",
    [CHANGELIST, "/admin/orphans/orphan/sweep/", "/admin/orphans/orphan/dashboard/"],
)
def test_staff_without_the_permission_get_403(client, url):
    client.force_login(
        User.objects.create_user("intern", password="pw-for-tests-only", is_staff=True)
    )

    assert client.get(url).status_code == 403


def test_staff_without_delete_permission_cannot_delete(client, email):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user(
        "viewer", password="pw-for-tests-only", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_orphan"))
    client.force_login(viewer)
    orphan = orphan_create(email=email, age=OLD)

    delete_action(client, [orphan.id], confirmed=True)

    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/provideridentity/?password_hash__startswith=argon2",
        "/admin/accounts/provideridentity/?password_hash__isnull=False",
        "/admin/otp/otpchallenge/?code_hash__startswith=a",
    ],
)
def test_no_hash_can_be_probed_through_a_list_filter(support, url, email):
    customer_create(email=email)

    response = support.get(url)

    assert response.status_code == 400


@pytest.mark.parametrize("action", ["delete_orphans", "hold_orphans"])
def test_select_all_across_pages_is_refused_for_the_sweep(support, email, action):
    orphan = orphan_create(email=email, age=OLD)

    response = support.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [orphan.id],
            "select_across": "on",  # what Django's BooleanField takes as yes too
            "confirmed": "yes",
        },
        follow=True,
    )

    assert "use Run sweep" in response.content.decode()
    assert AuthIdentity.objects.filter(id=orphan.id).exists()
    assert not OrphanHold.objects.exists()
    assert not OrphanDeletion.objects.exists()
