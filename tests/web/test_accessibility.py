"""Willow's own chat page audited for accessibility (issue 16) in a real browser against the real servers:
axe-core's WCAG 2.2 A/AA rules in every state, the transcript as a live log, a visible focus that the
header never covers, 24 px targets, reduced motion, and a whole conversation by keyboard alone."""
from __future__ import annotations

import pytest

from tests import note_turns
from tests.conftest import ARTIFACTS
from tests.web.axe_audit import assert_no_violations
from tests.web.test_chat_page import (  # noqa: F401 (browser: a fixture)
    browser, bot_texts, open_on_a_phone, wait_for_bot, wait_until_quiet)

pytestmark = pytest.mark.slow
MIN_TARGET = 24  # px: WCAG 2.2's minimum target size (2.5.8)
CRISIS_LINK = "Crisis lines worldwide (opens findahelpline.com in a new tab)"
FOCUSED = "(() => { const e = document.activeElement; return e.getAttribute('aria-label') || e.innerText || e.className; })()"
HREF = "document.activeElement.getAttribute('href')"


def new_page(browser, url: str, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    return context, page


def say(page, text: str) -> int:
    """Types ``text`` into the message box and sends it with Enter; returns the bot bubbles before it."""
    before = page.locator(".willow-bot").count()
    page.locator(".willow-input").fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.willow-bot').length > {before}")
    wait_until_quiet(page)
    return before


def test_every_state_of_the_page_has_no_axe_violations(browser, web_stack):  # noqa: F811
    context, page = new_page(browser, web_stack.page_url)
    wait_for_bot(page, 1)
    wait_until_quiet(page)
    # The transcript is a polite live region with a name, so new messages are read out.
    log = page.get_by_role("log", name="Conversation with Willow")
    assert log.get_attribute("aria-live") == "polite"
    assert_no_violations(page, "introduction")
    # The typing indicator, shown between a message and its reply (too briefly to catch on its own).
    page.evaluate("document.querySelector('.willow-typing').hidden = false")
    assert page.get_by_text("Willow is typing").count() == 1
    assert_no_violations(page, "typing indicator shown")
    page.evaluate("document.querySelector('.willow-typing').hidden = true")

    say(page, "I cried in therapy today")
    page.get_by_role("group", name="Suggested replies").get_by_role("button", name="Why does it happen?").wait_for()
    assert_no_violations(page, "a reply with buttons")

    say(page, "I want to kill myself")
    page.get_by_role("button", name="More lines and other countries").wait_for()
    page.locator('.willow-bot a[href="tel:988"]').first.wait_for()
    assert_no_violations(page, "the crisis reply")

    page.get_by_role("button", name="New conversation").click()
    page.get_by_role("alertdialog", name="Start a new conversation?").wait_for()
    assert_no_violations(page, "the new-conversation question")
    page.keyboard.press("Escape")
    context.close()


def test_the_note_and_its_buttons_have_no_axe_violations(browser, web_stack):  # noqa: F811
    from tests.web.test_chat_page import write_note

    context, page = new_page(browser, web_stack.page_url)
    write_note(page)
    page.get_by_role("group", name="Copy or download your note").wait_for()
    assert_no_violations(page, "the note with copy and download")
    context.close()


def test_on_a_phone_the_page_has_no_axe_violations(browser, web_stack):  # noqa: F811
    context, page = open_on_a_phone(browser, web_stack)
    wait_until_quiet(page)
    assert_no_violations(page, "phone 375x740, introduction")
    say(page, "i want to kill myself")
    page.get_by_role("button", name="More lines and other countries").wait_for()
    assert_no_violations(page, "phone 375x740, the crisis reply")
    context.close()


FOCUS_STATE = """() => {
    const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
    const seen = window.__focusSeen || (window.__focusSeen = new Set()), repeat = seen.has(el);
    seen.add(el);
    const rect = sel => { const e = document.querySelector(sel); if (!e) return null;
        const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
    return {
        name: (el.getAttribute('aria-label') || el.innerText || el.className || el.tagName),
        tag: el.tagName, repeat, inHeader: !!el.closest('.willow-header'), inLog: !!el.closest('.willow-log') && !el.matches('.willow-log'),
        inline: !!el.closest('.willow-msg'), outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
        box: {top: box.top, bottom: box.bottom, left: box.left, right: box.right, width: box.width, height: box.height},
        header: rect('.willow-header'), log: rect('.willow-log'), form: rect('.willow-form'),
        viewport: {width: innerWidth, height: innerHeight},
    };
}"""


def tab_through(page, limit: int = 80) -> list:
    """Presses Tab until the focus comes back round (or ``limit`` stops); what was focused at each stop."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        if state["tag"] == "BODY" or state["repeat"]:
            break
        stops.append(state)
    return stops


def check_stop(stop: dict) -> None:
    name, box = stop["name"], stop["box"]
    # A ring everyone can see: no element relies on the browser's default or has none.
    assert stop["outline"] != "none" and stop["outlineWidth"] >= 2, (name, stop["outline"], stop["outlineWidth"])
    view = stop["viewport"]
    assert box["top"] >= 0 and box["bottom"] <= view["height"] and box["left"] >= 0 and box["right"] <= view["width"], stop
    if not stop["inHeader"]:  # never under the header (WCAG 2.4.11: focus not obscured)
        assert box["top"] >= stop["header"]["bottom"] - 0.5, (name, box, stop["header"])
    if stop["inLog"]:  # scrolled into the log's visible part, not under the header or the input
        assert stop["log"]["top"] - 0.5 <= box["top"] and box["bottom"] <= stop["log"]["bottom"] + 0.5, (name, box, stop["log"])
    if not stop["inline"]:  # links inside a sentence are exempt from the target size
        assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET, (name, box)


@pytest.mark.parametrize("size", [(1280, 720), (375, 740)], ids=["desktop", "phone"])
def test_focus_is_visible_and_never_behind_the_header(browser, web_stack, size):  # noqa: F811
    width, height = size
    context, page = new_page(browser, web_stack.page_url, viewport={"width": width, "height": height})
    wait_for_bot(page, 1)
    wait_until_quiet(page)
    # The crisis reply is longer than the log: Tab goes through links the log has to scroll to.
    say(page, "i want to kill myself")
    page.get_by_role("button", name="More lines and other countries").wait_for()
    wait_until_quiet(page)
    tab_to(page, CRISIS_LINK, backwards=True)  # the first stop of the page, reached by keyboard
    stops = [page.evaluate(FOCUS_STATE)] + tab_through(page)
    names = [s["name"] for s in stops]
    assert names[0] == CRISIS_LINK and names[-2:] == ["Type a message", "Send"], names
    assert sum(s["inLog"] and s["tag"] == "A" for s in stops) >= 3, names  # the reply's tel: and sms: links
    assert "More lines and other countries" in names, names
    for stop in stops:
        check_stop(stop)
    # Backwards too (the last Tab left the page; Shift+Tab comes back to Send): the log scrolls up
    # to each earlier link, in the same order.
    for expected in reversed(names):
        page.keyboard.press("Shift+Tab")
        stop = page.evaluate(FOCUS_STATE)
        assert stop["name"] == expected
        check_stop(stop)
    context.close()


MOTION = """() => {
    const seconds = value => Math.max(...value.split(',').map(v => parseFloat(v) * (v.trim().endsWith('ms') ? 0.001 : 1)));
    const all = [...document.querySelectorAll('.willow, .willow *, .willow-embed, .willow-embed *')];
    return {
        elements: all.length,
        animated: all.filter(e => { const s = getComputedStyle(e); return s.animationName !== 'none' && seconds(s.animationDuration) > 0; })
                     .map(e => e.className.baseVal ?? e.className),
        transitions: all.filter(e => seconds(getComputedStyle(e).transitionDuration) > 0).length,
        smooth: all.concat([document.documentElement]).filter(e => getComputedStyle(e).scrollBehavior !== 'auto').length,
    };
}"""


@pytest.mark.parametrize("where", ["page", "launcher"])
def test_reduced_motion_turns_off_every_animation(browser, web_stack, where):  # noqa: F811
    """With prefers-reduced-motion: reduce nothing moves (computed durations 0, no smooth scrolling);
    without it the same page does animate, so the check would see motion if the query stopped working."""
    url = web_stack.page_url if where == "page" else f"{web_stack.host_origin}/open.html"
    measured = {}
    for preference in ("no-preference", "reduce"):
        context, page = new_page(browser, url, reduced_motion=preference)
        wait_for_bot(page, 1)
        wait_until_quiet(page)  # the whole introduction, so both runs measure the same elements
        measured[preference] = page.evaluate(MOTION)
        context.close()
    moving, still = measured["no-preference"], measured["reduce"]
    assert moving["animated"] and moving["transitions"] > 0, moving  # the typing dots, button hovers, the panel
    assert still["elements"] == moving["elements"] > 10
    assert still == {"elements": still["elements"], "animated": [], "transitions": 0, "smooth": 0}, still


def tab_to(page, name: str, backwards: bool = False, limit: int = 80, href: str = "") -> None:
    """Tab (or Shift+Tab) until the element named ``name`` (its aria-label or text; with ``href``, the
    link to it) has the focus."""
    for _ in range(limit):
        if page.evaluate(FOCUSED) == name and (not href or page.evaluate(HREF) == href):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{name!r} not reached by {'Shift+Tab' if backwards else 'Tab'}; at {page.evaluate(FOCUSED)!r}")


def type_and_enter(page, text: str) -> None:
    users = page.locator(".willow-user").count()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.willow-user').length > {users}")


def test_a_whole_conversation_by_keyboard_alone(browser, web_stack):  # noqa: F811
    """Tab, Shift+Tab, Enter, Space and typing only, no clicks: a message, a quick reply, the whole
    note (its Skip and 0-10 buttons too), copying the note, and the crisis links."""
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_stack.origin)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(web_stack.page_url)
    wait_for_bot(page, 1)
    wait_until_quiet(page)

    tab_to(page, "Type a message")
    type_and_enter(page, "I cried in therapy today")
    page.get_by_role("button", name="Why does it happen?").wait_for()
    assert page.evaluate(FOCUSED) == "Type a message"  # sending keeps the focus in the message box
    tab_to(page, "Why does it happen?", backwards=True)
    before = len(bot_texts(page))
    page.keyboard.press("Space")
    wait_for_bot(page, before + 1)
    assert page.locator(".willow-user").last.inner_text() == "Why does it happen?"
    # The chosen button is gone; the focus went on to the message box, not back to the top of the page.
    assert page.evaluate(FOCUSED) == "Type a message"

    for text, next_question in note_turns.TURNS:
        if text == "/skip_question" or text.isdigit():
            tab_to(page, "Skip" if text == "/skip_question" else text, backwards=True)
            users = page.locator(".willow-user").count()
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.querySelectorAll('.willow-user').length > {users}")
            assert page.evaluate(FOCUSED) == "Type a message"
        else:
            tab_to(page, "Type a message")
            type_and_enter(page, text)
        if next_question:
            page.wait_for_function(
                "texts => texts.includes([...document.querySelectorAll('.willow-bot')].pop().innerText)",
                arg=note_turns.question(next_question))
    page.locator(".willow-note").wait_for()
    note = page.locator(".willow-note").inner_text()
    assert note.startswith(note_turns.TITLE)
    tab_to(page, "Copy note", backwards=True)
    page.keyboard.press("Enter")
    page.locator(".willow-note-status", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == note

    tab_to(page, "Type a message")
    type_and_enter(page, "I want to kill myself")
    page.locator('.willow-bot a[href="tel:988"]').first.wait_for()
    wait_until_quiet(page)
    tab_to(page, "call", backwards=True, href="tel:988")  # the reply's "call or text 988"
    tab_to(page, "text", href="sms:988")
    tab_to(page, CRISIS_LINK, backwards=True)  # and the header's, which works without Willow's server
    assert page.evaluate("document.activeElement.href").startswith("https://findahelpline.com")
    page.screenshot(path=str(ARTIFACTS / "chat-page-keyboard.png"))
    context.close()
