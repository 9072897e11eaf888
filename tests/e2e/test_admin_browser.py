"""The staff admin in a real browser: Debian's Chromium, driven headless by
Playwright against the web server that ./dev test starts.

A Support user (staff, group Support, not a superuser) logs in through the
login form, filters the orphans by age, deletes one through the
confirmation page, finds it in the deletion audit, puts another on hold and
opens the dashboard, whose SVG chart shows the seeded orphan events.

Every step leaves a screenshot in var/artifacts/browser/ (admin-NN-*.png; on
a failure also admin-failure.png and .html). No browser is downloaded:
Playwright launches /usr/bin/chromium, which ./dev test installs.

Django's ORM refuses to run while Playwright's sync API holds its event loop,
so the rows are made before the browser starts and checked after it closes.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from accounts.models import AuthIdentity
from ops.support import support_group_install
from orphans.models import OrphanDeletion, OrphanEvent, OrphanHold
from tests.orphans.conftest import OLD, YOUNG, orphan_create

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach
# Google's hosts, which a closed network refuses; --no-sandbox because CI
# runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"
USERNAME = "support.browser"
PASSWORD = "browser-test-pw-9f3k2"  # noqa: S105 - throw-away test user
STEP_TIMEOUT_MS = 10_000


class Shots:
    """Numbered full-page screenshots: admin-01-login-form.png, …"""

    def __init__(self, page):
        self.page = page
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("admin-*"):
            old.unlink()

    def __call__(self, name: str) -> None:
        self.count += 1
        path = ARTIFACTS / f"admin-{self.count:02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)

    def failure(self) -> None:
        try:
            self.page.screenshot(path=ARTIFACTS / "admin-failure.png", full_page=True)
            (ARTIFACTS / "admin-failure.html").write_text(self.page.content())
        except Exception:  # noqa: S110 - best effort; the test's error matters
            pass


def chromium_required() -> None:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test drives Debian's Chromium "
            "(no browser downloads). ./dev test installs it; by hand: "
            "apt-get install -y --no-install-recommends chromium"
        )


def support_user_create() -> User:
    # Earlier live tests flush the tables, which drops the group the data
    # migration made.
    support_group_install(Group, Permission)
    user = User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


def orphan_row(page, identity_id: str):
    return page.locator("#result_list tbody tr").filter(
        has=page.locator(f'input.action-select[value="{identity_id}"]')
    )


def on_hold_icon(page, identity_id: str):
    return orphan_row(page, identity_id).locator("td.field-is_held img")


def run_action(page, label: str, *identity_ids: str) -> None:
    for identity_id in identity_ids:
        page.check(f'input.action-select[value="{identity_id}"]')
    page.select_option('select[name="action"]', label=label)
    page.click('button[name="index"]')


def message(page, text: str) -> None:
    """The one message shown after an action: a success, not a warning."""
    shown = page.locator(".messagelist li")
    expect(shown).to_have_count(1)
    expect(shown).to_have_text(text)
    expect(shown).to_have_class(re.compile(r"\b(success|info)\b"))


def test_support_reviews_deletes_and_holds_orphans_in_a_browser(live, email, tmp_path):
    chromium_required()

    support_user_create()
    doomed = orphan_create(email="doomed." + email, age=OLD)
    held = orphan_create(email="held." + email, age=OLD)
    young = orphan_create(email="young." + email, age=YOUNG)
    now = timezone.now()
    # The dashboard charts OrphanEvent rows per day: 3 today, 2 two days ago.
    for n, when in enumerate([now] * 3 + [now - timedelta(days=2)] * 2):
        OrphanEvent.objects.create(
            auth_identity_id=f"authid_browser_event_{n}",
            email_hash="0" * 64,
            error="ValidationError: browser test",
            created_at=when,
        )

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        expect.set_options(timeout=STEP_TIMEOUT_MS)
        shot = Shots(page)
        try:
            # Log in through the form: /admin/ sends us to the login page.
            page.goto(live.url + "/admin/")
            expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
            page.fill("#id_username", USERNAME)
            page.fill("#id_password", PASSWORD)
            shot("login-form")
            page.click('#login-form [type="submit"]')
            expect(page.locator("#user-tools")).to_contain_text(USERNAME)
            expect(page.locator("#content h1")).to_have_text("Site administration")
            expect(page.locator("#orphan-tools")).to_be_visible()
            shot("admin-index")

            # The orphans list, then the age filter.
            page.goto(live.url + "/admin/orphans/orphan/")
            for identity in (doomed, held, young):
                expect(orphan_row(page, identity.id)).to_have_count(1)
            expect(page.locator("#result_list")).to_contain_text("d***@example.com")
            expect(page.locator("#result_list")).not_to_contain_text("doomed." + email)
            shot("orphans-list")
            page.locator("#changelist-filter").get_by_role(
                "link", name="past the sweep age"
            ).click()
            expect(page).to_have_url(re.compile(r"[?&]age=sweepable"))
            expect(orphan_row(page, doomed.id)).to_have_count(1)
            expect(orphan_row(page, held.id)).to_have_count(1)
            expect(orphan_row(page, young.id)).to_have_count(0)
            shot("orphans-past-sweep-age")

            # Delete one: the action shows a confirmation page first, whose
            # "No" leads back to the filtered list with nothing deleted.
            run_action(page, "Delete selected orphans…", doomed.id)
            expect(page.locator("#content h1")).to_have_text("Delete orphans?")
            page.get_by_role("link", name="No, go back").click()
            expect(page).to_have_url(re.compile(r"[?&]age=sweepable"))
            expect(orphan_row(page, doomed.id)).to_have_count(1)
            run_action(page, "Delete selected orphans…", doomed.id)
            expect(page.locator("#content h1")).to_have_text("Delete orphans?")
            expect(page.locator("#content")).to_contain_text(doomed.id)
            expect(page.locator("#content")).not_to_contain_text(held.id)
            confirm = page.locator("#confirm-delete")
            expect(confirm).to_have_value("Yes, delete 1 orphan")
            shot("delete-confirmation")
            confirm.click()
            message(page, "Deleted 1 orphan(s); see the deletion audit.")
            expect(page).to_have_url(re.compile(r"[?&]age=sweepable"))
            expect(orphan_row(page, doomed.id)).to_have_count(0)
            expect(orphan_row(page, held.id)).to_have_count(1)
            shot("deleted-message")

            # The deletion audit has its row: who, how, which identity.
            page.goto(live.url + "/admin/orphans/orphandeletion/")
            audit_row = page.locator("#result_list tbody tr").filter(has_text=doomed.id)
            expect(audit_row).to_have_count(1)
            expect(audit_row.locator("td.field-trigger")).to_have_text("Admin")
            staff_cell = audit_row.locator("td.field-staff_username")
            expect(staff_cell).to_have_text(USERNAME)
            expect(staff_cell).to_be_in_viewport()
            shot("deletion-audit")

            # Back to the list: hold the other one; the on-hold column ticks.
            page.go_back()
            expect(page).to_have_url(re.compile(r"/admin/orphans/orphan/"))
            run_action(
                page, "Put selected orphans on hold (the sweep skips them)", held.id
            )
            message(page, "Put 1 orphan(s) on hold.")
            expect(on_hold_icon(page, held.id)).to_have_attribute("alt", "True")
            # Unfiltered, the young one shows beside it, not on hold; the
            # column is on screen, not scrolled away.
            page.goto(live.url + "/admin/orphans/orphan/")
            expect(on_hold_icon(page, held.id)).to_have_attribute("alt", "True")
            expect(on_hold_icon(page, young.id)).to_have_attribute("alt", "False")
            expect(on_hold_icon(page, held.id)).to_be_in_viewport()
            expect(orphan_row(page, doomed.id)).to_have_count(0)
            shot("orphan-on-hold")

            # The dashboard: the chart's bars carry the seeded events.
            page.goto(live.url + "/admin/orphans/orphan/dashboard/")
            chart = page.locator("svg#orphan-chart")
            expect(chart).to_be_visible()
            created = chart.locator("rect.bar-created")
            expect(created).to_have_count(7)  # one a day
            today = chart.locator('rect.bar-created[data-value="3"]')
            two_days_ago = chart.locator('rect.bar-created[data-value="2"]')
            expect(today).to_have_count(1)
            expect(two_days_ago).to_have_count(1)
            expect(chart.locator('rect.bar-cleaned[data-value="1"]')).to_have_count(1)
            assert float(today.get_attribute("height")) > 0
            tall, short = today.bounding_box(), two_days_ago.bounding_box()
            assert tall is not None, "the bar of 3 events is not rendered"
            assert short is not None, "the bar of 2 events is not rendered"
            assert 0 < short["height"] < tall["height"], (short, tall)
            expect(page.locator("#current-orphans")).to_have_text("2")
            shot("dashboard-chart")
        except BaseException:
            shot.failure()
            raise
        finally:
            context.close()

    # What the browser did, seen from the database.
    assert not AuthIdentity.objects.filter(pk=doomed.pk).exists()
    deletion = OrphanDeletion.objects.get(auth_identity_id=doomed.id)
    assert deletion.staff_username == USERNAME
    assert OrphanHold.objects.filter(auth_identity_id=held.id).exists()
    assert not OrphanHold.objects.filter(auth_identity_id=young.id).exists()
    assert AuthIdentity.objects.filter(pk__in=[held.pk, young.pk]).count() == 2
