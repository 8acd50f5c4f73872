"""The chat page sized for a phone (375 x 740, issue 14), in a real browser against the real servers:
a compact header, the welcome in view on load, every reply read from its start, tappable buttons."""
from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS
from tests.web.test_chat_page import browser, open_on_a_phone, wait_until_quiet  # noqa: F401 (browser: a fixture)

pytestmark = pytest.mark.slow
WIDTH, HEIGHT = 375, 740
HEADER_MAX = 80  # px: the "at most about 80 px" of 740
MIN_TARGET = 24  # px: WCAG 2.2's minimum target size


def log_box(page) -> dict:
    return page.locator(".willow-log").bounding_box()


def fully_in_log(page, locator) -> bool:
    box, log = locator.bounding_box(), log_box(page)
    return box is not None and box["y"] >= log["y"] - 1 and box["y"] + box["height"] <= log["y"] + log["height"] + 1


def ask(page, text: str) -> int:
    """Sends ``text`` and waits for the whole reply; returns how many bot bubbles there were before it."""
    before = page.locator(".willow-bot").count()
    users = page.locator(".willow-user").count()
    page.locator(".willow-input").fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.willow-user').length > {users}")
    page.wait_for_function(f"document.querySelectorAll('.willow-bot').length > {before}")
    wait_until_quiet(page)
    return before


def assert_read_from_start(page, first_new: int) -> None:
    """The top of the turn's first bot bubble is in the log's visible box, with room for a line below it."""
    first = page.locator(".willow-bot").nth(first_new).bounding_box()
    log = log_box(page)
    assert log["y"] - 1 <= first["y"] <= log["y"] + log["height"] - MIN_TARGET, (first, log)


def assert_buttons_tappable(page) -> None:
    buttons = page.locator(".willow-header a, .willow-header button, .willow-log button")
    assert buttons.count() > 0
    for i in range(buttons.count()):
        button = buttons.nth(i)
        if not button.is_visible():
            continue
        box = button.bounding_box()
        name = button.inner_text()
        assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET, (name, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (name, box)  # wrapped, not cut off
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_on_a_phone_the_header_is_compact_and_the_welcome_is_in_view(browser, web_stack):  # noqa: F811
    context, page = open_on_a_phone(browser, web_stack)
    wait_until_quiet(page)
    header = page.locator(".willow-header").bounding_box()
    page.screenshot(path=str(ARTIFACTS / "chat-page-phone-load.png"))
    assert header["height"] <= HEADER_MAX, header
    # Still says what Willow is, and help is one tap away without the server.
    disclaimer = page.locator(".willow-disclaimer")
    assert disclaimer.is_visible() and "not a therapist" in disclaimer.inner_text()
    crisis = page.get_by_role("link", name="Crisis lines")
    assert crisis.is_visible() and crisis.get_attribute("href").startswith("https://findahelpline.com")
    assert page.get_by_role("button", name="New conversation").is_visible()
    # The welcome (the bubble that says it is automated) is whole on the first screen.
    welcome = page.locator(".willow-bot").first
    assert "automated" in welcome.inner_text()
    assert fully_in_log(page, welcome)
    assert_buttons_tappable(page)
    context.close()


def test_on_a_phone_every_reply_is_read_from_its_start(browser, web_stack):  # noqa: F811
    context, page = open_on_a_phone(browser, web_stack)
    wait_until_quiet(page)
    # Long answers, one after the other: each time the view stops at the start of the new reply.
    for number, question in enumerate(["why do people cry in therapy", "how do I bring it up with my therapist"]):
        first_new = ask(page, question)
        page.screenshot(path=str(ARTIFACTS / f"chat-page-phone-reply-{number + 1}.png"))
        assert_read_from_start(page, first_new)
        assert_buttons_tappable(page)
    # A reply to a tapped follow-up too.
    follow_up = page.locator(".willow-quick-reply")
    if follow_up.count():
        before = page.locator(".willow-bot").count()
        follow_up.first.click()
        page.wait_for_function(f"document.querySelectorAll('.willow-bot').length > {before}")
        wait_until_quiet(page)
        page.screenshot(path=str(ARTIFACTS / "chat-page-phone-reply-3.png"))
        assert_read_from_start(page, before)
    context.close()
