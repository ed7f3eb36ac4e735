"""The demo admin signs in, creates a department, invites a person; the person accepts the link and
signs up in a second browser; the admin finds them by pinyin."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from tack.demo.seed import DEMO_ADMIN_LOGIN as DEMO_LOGIN
from tack.demo.seed import DEMO_ADMIN_PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.live import LiveServer


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_admin_invites_a_person_who_signs_up_and_is_found_by_pinyin(e2e_server: LiveServer, browser) -> None:
    admin_context = await browser.new_context(locale="en-US")
    admin = await admin_context.new_page()
    try:
        # 1. The admin signs in.
        await admin.goto(f"{e2e_server.url}/sign-in")
        await admin.get_by_test_id("signin-login").fill(DEMO_LOGIN)
        await admin.get_by_test_id("signin-password").fill(DEMO_ADMIN_PASSWORD)
        await admin.get_by_test_id("signin-submit").click()
        await expect(admin.get_by_test_id("org-switcher")).to_be_visible()

        # 2. ...creates a department in the company.
        await _choose_org(admin, "星河科技")
        department = f"Design {uuid.uuid4().hex[:4]}"
        await admin.get_by_test_id("nav-admin-departments").click()
        await admin.get_by_test_id("dept-create").click()
        await admin.get_by_test_id("dept-name").fill(department)
        await admin.get_by_test_id("dept-submit").click()
        await expect(admin.get_by_text(department).first).to_be_visible()

        # 3. ...and invites a person into it.
        await admin.get_by_test_id("nav-admin-invitations").click()
        await admin.get_by_test_id("invite-create").click()
        await _pick_option(admin, "invite-department", department)
        await admin.get_by_test_id("invite-submit").click()
        link = (await admin.get_by_test_id("invite-link").inner_text()).strip()
        assert re.search(r"/join/[A-Za-z0-9]+$", link), link
        await _screenshot(admin, "e2e-invitation")

        # 4. In a second browser the person opens the link and signs up.
        guest_context = await browser.new_context(locale="zh-CN")
        guest = await guest_context.new_page()
        try:
            await guest.goto(link)
            await expect(guest.get_by_test_id("join-org-name")).to_have_text("星河科技")
            await guest.get_by_test_id("signup-name").fill("王小明")
            await guest.get_by_test_id("signup-email").fill(f"wxm.{uuid.uuid4().hex[:6]}@example.com")
            await guest.get_by_test_id("signup-password").fill("a-good-password")
            await guest.get_by_test_id("signup-submit").click()
            await expect(guest.get_by_test_id("org-switcher")).to_contain_text("星河科技")
            await _screenshot(guest, "e2e-joined")
        finally:
            await guest_context.close()

        # 5. The admin finds them by pinyin, and by initials.
        await admin.get_by_test_id("nav-contacts").click()
        for query in ("wangxiaoming", "wxm"):
            await admin.get_by_test_id("contacts-search").fill(query)
            await expect(admin.get_by_test_id("member-row").filter(has_text="王小明")).to_be_visible()
        await admin.get_by_test_id("member-row").filter(has_text="王小明").first.click()
        await expect(admin.get_by_test_id("member-detail")).to_contain_text(department)
        await _screenshot(admin, "e2e-found-by-pinyin")
    except Exception:
        await _screenshot(admin, "e2e-failure-admin")
        raise
    finally:
        await admin_context.close()


async def _choose_org(page: Page, name: str) -> None:
    switcher = page.get_by_test_id("org-switcher")
    if name in (await switcher.inner_text()):
        return
    await switcher.click()
    await page.get_by_role("menuitem", name=name).or_(page.get_by_role("option", name=name)).first.click()
    await expect(switcher).to_contain_text(name)


async def _pick_option(page: Page, test_id: str, label: str) -> None:
    """Open an Ant Design select (or tree select) and choose the option with this label."""
    await page.get_by_test_id(test_id).click()
    await page.locator(".ant-select-dropdown:visible").get_by_text(label, exact=True).first.click()
