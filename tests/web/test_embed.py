"""Willow embedded in another site with one script tag (willow-embed.js, issue 16), in a real browser:
the host pages are on other origins than the widget's files and than Willow's server, as on a clinic's
site. Willow allows the host origin (CORS and its socket.io origin check) and refuses the others."""
from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, EMBED_COLOR, EMBED_TITLE
from tests.web.axe_audit import assert_no_violations
from tests.web.test_chat_page import browser, wait_for_bot, wait_until_quiet  # noqa: F401 (browser: a fixture)

pytestmark = pytest.mark.slow
LAUNCHER = f"Chat with {EMBED_TITLE}"
REFUSED = "Willow can't be used from this page"


def open_host(browser, url: str, **context_options):
    """The host page, and every request it makes (to see what goes to Willow's server, and when)."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    requests: list = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    return context, page, requests


def rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def test_the_launcher_opens_a_working_chat_on_another_origin(browser, web_stack):  # noqa: F811
    context, page, requests = open_host(browser, f"{web_stack.host_origin}/index.html")
    assert web_stack.host_origin != web_stack.origin  # another port: another origin
    launcher = page.get_by_role("button", name=LAUNCHER)
    launcher.wait_for()
    panel_id = launcher.get_attribute("aria-controls")
    panel = page.locator(f"#{panel_id}")
    assert launcher.get_attribute("aria-expanded") == "false" and panel.is_hidden()
    # The one script tag brought the CSS from its own folder; the colour is the site's.
    assert f"{web_stack.origin}/willow-chat.css" in requests
    # (waited for: the button's 0.15 s background transition runs when the site's colour applies)
    page.wait_for_function("([e, want]) => getComputedStyle(e).backgroundColor === want",
                           arg=[launcher.element_handle(), rgb(EMBED_COLOR)], timeout=5_000)
    box, view = launcher.bounding_box(), page.viewport_size
    assert view["width"] - 40 <= box["x"] + box["width"] <= view["width"] and view["height"] - 40 <= box["y"] + box["height"] <= view["height"]
    page.wait_for_timeout(1000)
    # A visitor who never opens it starts no conversation: nothing has gone to Willow's server.
    assert not [url for url in requests if url.startswith(web_stack.servers.url)]
    assert_no_violations(page, "launcher closed (host page, another origin)")

    # By keyboard: Tab reaches it after the site's own link, Enter opens the panel with the focus
    # in the message box, and the conversation works across origins.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == panel_id
    page.keyboard.press("Enter")
    panel.wait_for()
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("dialog", name=EMBED_TITLE).is_visible()
    assert f"{web_stack.origin}/vendor/socket.io.min.js" in requests  # from the widget's folder, no CDN
    wait_for_bot(page, 1)
    assert "automated" in page.locator(".willow-bot").first.inner_text()
    assert page.evaluate("document.activeElement.className") == "willow-input"
    # Help is one tap away, in the panel's own header.
    crisis = panel.get_by_role("link", name="Crisis lines")
    assert crisis.is_visible() and crisis.get_attribute("href").startswith("https://findahelpline.com")
    assert panel.locator(".willow-header").get_by_role("link", name="Crisis lines").count() == 1
    assert panel.locator(".willow-title").inner_text() == EMBED_TITLE
    page.keyboard.type("I cried in therapy today")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Why does it happen?").wait_for()
    wait_until_quiet(page)
    session_id = page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))")
    users = [e["text"] for e in web_stack.servers.conversation(f"web:{session_id}")["events"] if e["event"] == "user"]
    assert users == ["/greet", "I cried in therapy today"]
    page.screenshot(path=str(ARTIFACTS / "embed-launcher-open.png"))
    assert_no_violations(page, "launcher open (host page, another origin)")

    # Escape closes it and gives the focus back to the launcher; opening again shows the same conversation.
    shown = page.locator(".willow-bot").count()
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == panel_id
    launcher.click()
    panel.wait_for()
    assert page.locator(".willow-bot").count() == shown
    # The close button in the header does the same as Escape.
    panel.get_by_role("button", name="Close chat").click()
    panel.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == panel_id
    context.close()


def test_escape_in_the_new_conversation_question_only_closes_the_question(browser, web_stack):  # noqa: F811
    context, page, _ = open_host(browser, f"{web_stack.host_origin}/index.html")
    page.get_by_role("button", name=LAUNCHER).click()
    wait_for_bot(page, 1)
    page.get_by_role("button", name="New conversation").click()
    question = page.get_by_role("alertdialog", name="Start a new conversation?")
    question.wait_for()
    page.keyboard.press("Escape")
    question.wait_for(state="hidden")
    assert page.locator("#willow-panel").is_visible()  # the panel is still open
    assert page.evaluate("document.activeElement.innerText") == "New conversation"
    context.close()


def test_data_open_starts_open_without_taking_the_focus(browser, web_stack):  # noqa: F811
    context, page, _ = open_host(browser, f"{web_stack.host_origin}/open.html")
    page.locator("#willow-panel").wait_for()
    assert page.get_by_role("button", name=LAUNCHER).get_attribute("aria-expanded") == "true"
    wait_for_bot(page, 1)
    assert page.evaluate("document.activeElement.tagName") == "BODY"  # the visitor came for the site's page
    context.close()


def test_on_a_phone_the_panel_fills_the_screen_and_closes_back_to_the_launcher(browser, web_stack):  # noqa: F811
    context, page, _ = open_host(browser, f"{web_stack.host_origin}/index.html",
                                 viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    launcher = page.get_by_role("button", name=LAUNCHER)
    launcher.tap()
    panel = page.locator("#willow-panel")
    panel.wait_for()
    wait_for_bot(page, 1)
    wait_until_quiet(page)
    box = panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 740)
    assert launcher.is_hidden()  # under the panel; the header's close button is the way back
    header = panel.locator(".willow-header").bounding_box()
    assert header["height"] <= 100, header
    for name in ("Crisis lines", "Close chat"):
        target = panel.get_by_role("link" if name == "Crisis lines" else "button", name=name)
        target_box = target.bounding_box()
        assert target.is_visible() and target_box["width"] >= 24 and target_box["height"] >= 24, (name, target_box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(ARTIFACTS / "embed-launcher-phone.png"))
    assert_no_violations(page, "launcher open, phone 375x740")
    page.get_by_role("button", name="Close chat").tap()
    panel.wait_for(state="hidden")
    assert launcher.is_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "willow-panel"
    context.close()


def test_data_position_left_puts_the_launcher_and_panel_bottom_left(browser, web_stack):  # noqa: F811
    context, page, _ = open_host(browser, f"{web_stack.host_origin}/left.html")
    launcher = page.get_by_role("button", name=LAUNCHER)
    launcher.wait_for()
    box, view = launcher.bounding_box(), page.viewport_size
    assert 0 <= box["x"] <= 40 and view["height"] - 40 <= box["y"] + box["height"] <= view["height"]
    launcher.click()
    panel = page.locator(f"#{launcher.get_attribute('aria-controls')}")
    panel.wait_for()
    wait_for_bot(page, 1)
    assert panel.bounding_box()["x"] <= 40  # the panel opens on the same side
    context.close()


def test_without_the_launcher_the_chat_fills_the_sites_own_element(browser, web_stack):  # noqa: F811
    context, page, _ = open_host(browser, f"{web_stack.host_origin}/inline.html")
    wait_for_bot(page, 1)
    assert page.locator("main #willow-chat .willow-log").count() == 1  # where the site put it
    assert page.get_by_role("button", name=LAUNCHER).count() == 0
    # The site keeps its own h1; Willow's title is a heading below it.
    assert page.get_by_role("heading", name=EMBED_TITLE, level=2).is_visible()
    context.close()


@pytest.mark.parametrize("which", ["refused_origin", "cors_only_origin"])
def test_a_page_willow_does_not_allow_shows_why_instead_of_waiting(browser, web_stack, which):  # noqa: F811
    """refused_origin: allowed by neither CORS nor the origin check (the browser blocks the requests);
    cors_only_origin: CORS lets it through, Willow's socket.io origin check refuses the socket."""
    context, page, _ = open_host(browser, f"{getattr(web_stack, which)}/index.html")
    page.get_by_role("button", name=LAUNCHER).click()
    status = page.get_by_role("status").filter(has_text=REFUSED)
    status.wait_for(timeout=15_000)
    assert "emergency number" in status.inner_text()
    assert page.locator(".willow-input").is_disabled()
    assert page.locator(".willow-bot").count() == 0  # nothing came from Willow
    # Help is still one tap away: the crisis link needs no server.
    assert page.locator("#willow-panel").get_by_role("link", name="Crisis lines").is_visible()
    assert_no_violations(page, f"launcher open on a refused origin ({which.replace('_origin', '')})")
    context.close()
