"""What the browser tests of classes and meetings do on their pages: sign in as a demo account, open
the class group, find a participant, keep a screenshot."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Locator, Page, expect

from tack.demo.seed import DEMO_ADMIN_PASSWORD, SCHOOL_NAME
from tests.e2e.conftest import ARTIFACTS
from tests.live import LiveServer

# 启明实验学校 (tack/demo/seed.py): t.001 is the head teacher of 一年级一班, the class's first teacher
# made; s.0101.01 and s.0101.02 are two of its students. Demo accounts share the demo password.
TEACHER_LOGIN = "t.001@demo.tack.example"
STUDENT_LOGINS = ("s.0101.01@demo.tack.example", "s.0101.02@demo.tack.example")
# Each of them belongs to one class group only, named after the class.
CLASS_GROUP = "一班"


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(browser, server: LiveServer, login: str, locale: str = "en-US",  # noqa: ANN001
                  init_script: str | None = None) -> tuple[BrowserContext, Page, str]:
    """A browser context of its own signed in as `login`; (context, page, the person's name)."""
    context = await browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
    if init_script is not None:
        await context.add_init_script(init_script)
    page = await context.new_page()
    await page.goto(f"{server.url}/sign-in")
    await page.get_by_test_id("signin-login").fill(login)
    await page.get_by_test_id("signin-password").fill(DEMO_ADMIN_PASSWORD)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("org-switcher")).to_contain_text(SCHOOL_NAME)
    name = (await page.locator(".tack-account-name").inner_text()).strip()
    return context, page, name


async def open_class_group(page: Page) -> None:
    await page.get_by_test_id("chat-nav").click()
    await expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live")
    await page.get_by_test_id("conversation-item").filter(has_text=CLASS_GROUP).first.click()
    await expect(page.get_by_test_id("chat-title")).to_have_text(CLASS_GROUP)


def participant(page: Page, name: str) -> Locator:
    return page.get_by_test_id("room-participant").filter(has=page.get_by_text(name, exact=True))
