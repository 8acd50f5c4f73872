"""The chat page in a real browser (Debian's chromium driven by Playwright) against the real servers."""
from __future__ import annotations

import shutil

import pytest

from tests import domain_files, note_turns
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, web_stack):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(web_stack.page_url)
    yield page
    context.close()


def first_paragraph(name: str) -> list[str]:
    return [text.split("\n\n")[0] for text in domain_files.texts(name)]


def bot_texts(page) -> list[str]:
    return page.locator(".willow-bot").all_inner_texts()


def wait_for_bot(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.willow-bot').length >= {count}")


def test_chat_reload_and_crisis_links(page, web_stack):
    # A new conversation opens with Willow's honest introduction.
    wait_for_bot(page, 1)
    assert bot_texts(page)[0] in first_paragraph("utter_intro")
    assert page.locator(".willow-log").get_attribute("aria-live") == "polite"
    assert "not a therapist" in page.locator(".willow-disclaimer").inner_text()

    # Typing and Enter sends; the reply and its quick replies appear.
    before = len(bot_texts(page))
    page.locator(".willow-input").fill("I cried in therapy today")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Why does it happen?").wait_for()
    assert page.locator(".willow-user").last.inner_text() == "I cried in therapy today"
    assert len(bot_texts(page)) > before

    # A quick reply sends its payload and shows its title.
    before = len(bot_texts(page))
    page.get_by_role("button", name="Why does it happen?").click()
    wait_for_bot(page, before + 1)
    assert page.locator(".willow-user").last.inner_text() == "Why does it happen?"
    assert bot_texts(page)[before] in first_paragraph("utter_why_cry")

    # A reload keeps the transcript and the same conversation on the server.
    shown = len(bot_texts(page))
    session_id = page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))")
    page.reload()
    wait_for_bot(page, shown)
    assert page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))") == session_id
    page.locator(".willow-input").fill("is that normal?")
    page.locator(".willow-send").click()
    wait_for_bot(page, shown + 1)
    assert len(session_id) == 32  # 128 random bits, handed out by the server
    tracker = web_stack.servers.conversation(f"web:{session_id}")
    assert tracker["slots"]["topic"] == "cried"
    assert [e["parse_data"]["intent"]["name"] for e in tracker["events"] if e["event"] == "user"][-1] == "ask_is_normal"

    # Crisis lines are links a phone can call or text.
    page.locator(".willow-input").fill("i want to kill myself")
    page.keyboard.press("Enter")
    page.locator('.willow-bot a[href="tel:988"]').first.wait_for()
    assert page.locator('.willow-bot a[href="sms:988"]').count() >= 1
    assert page.locator('.willow-bot a[href^="sms:85258"]').count() >= 1
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)


def wait_until_quiet(page, quiet_ms: int = 1500) -> None:
    """Until no new bot message has arrived for ``quiet_ms`` (a reply comes in several messages)."""
    page.wait_for_function(
        """quiet => {
            const n = document.querySelectorAll('.willow-bot').length, now = Date.now();
            const seen = window.__willowSeen || (window.__willowSeen = {n: -1, at: now});
            if (n !== seen.n) { seen.n = n; seen.at = now; return false; }
            return now - seen.at >= quiet;
        }""", arg=quiet_ms, polling=200)


def open_on_a_phone(browser, web_stack):
    """The chat page at 375 x 740, as on a small phone, after the introduction has started."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(web_stack.page_url)
    wait_for_bot(page, 1)
    return context, page


def test_phone_size_and_new_conversation(browser, web_stack):
    context, page = open_on_a_phone(browser, web_stack)
    first_session = page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))")
    page.locator(".willow-input").fill("why do people cry in therapy")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.willow-user').length === 1")
    # All of the answer, before the conversation is replaced (a late reply would land in the new one).
    wait_until_quiet(page)
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shown = bot_texts(page)
    restart = page.get_by_role("button", name="New conversation")
    confirm = page.get_by_role("alertdialog", name="Start a new conversation?")

    def focused() -> str:
        return page.evaluate("document.activeElement.innerText || document.activeElement.className")

    # It asks first, with the focus on the choice that loses nothing; Cancel keeps everything.
    restart.click()
    confirm.wait_for()
    page.screenshot(path=str(ARTIFACTS / "chat-page-phone-confirm.png"))
    assert focused() == "Cancel"
    confirm.get_by_role("button", name="Cancel").click()
    confirm.wait_for(state="hidden")
    assert focused() == "New conversation"
    # By keyboard: Enter opens it, Escape closes it, and nothing is lost either way.
    page.keyboard.press("Enter")
    confirm.wait_for()
    page.keyboard.press("Escape")
    confirm.wait_for(state="hidden")
    page.wait_for_timeout(500)  # long enough for a wrongly started session to show
    assert page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))") == first_session
    assert page.locator(".willow-user").all_inner_texts() == ["why do people cry in therapy"]
    assert bot_texts(page) == shown

    # Start over (Tab from Cancel, Enter) begins a fresh session.
    page.keyboard.press("Enter")
    confirm.wait_for()
    page.keyboard.press("Tab")
    assert focused() == "Start over"
    page.keyboard.press("Enter")
    confirm.wait_for(state="hidden")
    page.wait_for_function(
        "old => JSON.parse(sessionStorage.getItem('willow.session')) !== old", arg=first_session)
    wait_for_bot(page, 1)  # the new conversation's introduction, once the session has changed
    # The old transcript is gone and the new conversation starts with the introduction.
    assert page.locator(".willow-user").count() == 0
    assert bot_texts(page)[0] in first_paragraph("utter_intro")
    assert page.evaluate("document.activeElement.className") == "willow-input"
    page.screenshot(path=str(ARTIFACTS / "chat-page-phone.png"))
    context.close()


def write_note(page) -> None:
    """Goes through the note's questions (typing, the Skip button, a button of the 0-10 scale)."""
    wait_for_bot(page, 1)
    for text, next_question in note_turns.TURNS:
        before = page.locator(".willow-user").count()
        if text == "/skip_question":
            page.get_by_role("button", name="Skip", exact=True).click()
        elif text.isdigit():
            page.get_by_role("button", name=text, exact=True).click()
        else:
            page.locator(".willow-input").fill(text)
            page.keyboard.press("Enter")
        page.wait_for_function(f"document.querySelectorAll('.willow-user').length > {before}")
        if next_question:
            page.wait_for_function(
                "texts => texts.includes([...document.querySelectorAll('.willow-bot')].pop().innerText)",
                arg=note_turns.question(next_question),
            )
    page.locator(".willow-note").wait_for()


def test_the_note_can_be_copied_and_downloaded(browser, web_stack):
    context = browser.new_context(accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_stack.origin)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(web_stack.page_url)
    write_note(page)
    note = page.locator(".willow-note").inner_text()
    assert note.startswith(note_turns.TITLE) and all(line in note for line in note_turns.NOTE_LINES)
    assert page.locator(".willow-note").count() == 1  # shown once, not also in pieces

    page.get_by_role("button", name="Copy note").click()
    page.locator(".willow-note-status", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == note

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as text").click()
    download = download_info.value
    assert download.suggested_filename == "willow-note.txt"
    assert open(download.path(), encoding="utf-8", newline="").read() == note.replace("\n", "\r\n") + "\r\n"

    # After a reload the note and its buttons are still there (the transcript is in sessionStorage).
    page.reload()
    page.get_by_role("button", name="Download as text").wait_for()
    page.screenshot(path=str(ARTIFACTS / "chat-page-note.png"), full_page=True)
    context.close()


def test_copy_falls_back_without_the_clipboard_api(browser, web_stack):
    context = browser.new_context()
    # Older browsers and plain-http pages have no navigator.clipboard: the page selects and copies.
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});"
                            "window.copied = null;"
                            "document.addEventListener('copy', () => { window.copied = String(getSelection()) ||"
                            " (document.activeElement && document.activeElement.value); });")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(web_stack.page_url)
    write_note(page)
    page.get_by_role("button", name="Copy note").click()
    page.locator(".willow-note-status", has_text="Copied").wait_for()
    assert page.evaluate("window.copied") == page.locator(".willow-note").inner_text()
    context.close()


def test_on_a_phone_the_crisis_reply_is_read_from_its_start(browser, web_stack):
    # 375 x 740: the caring sentence, the first line and the emergency number are on the first screen,
    # the view stops at the start of the reply (not at its end), and the rest is one tap away.
    context, page = open_on_a_phone(browser, web_stack)
    page.locator(".willow-input").fill("i want to kill myself")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="More lines and other countries").wait_for()
    page.wait_for_timeout(300)  # the last scroll after the buttons

    log = page.locator(".willow-log").bounding_box()
    opening = domain_files.default_text("utter_crisis").split("\n\n")[0]
    first = page.locator(".willow-bot", has_text=opening).last
    assert first.inner_text() == opening

    def on_screen(locator) -> bool:
        box = locator.bounding_box()
        return box is not None and box["y"] >= log["y"] - 1 and box["y"] + box["height"] <= log["y"] + log["height"] + 1

    page.screenshot(path=str(ARTIFACTS / "chat-page-phone-crisis.png"))
    assert on_screen(first)  # the start of the reply, not its end
    assert on_screen(page.locator('.willow-bot a[href="tel:988"]').first)
    emergency = page.locator(".willow-bot", has_text="In immediate danger").last
    assert on_screen(emergency)

    # The full list is behind the button.
    page.get_by_role("button", name="More lines and other countries").click()
    page.locator(".willow-bot", has_text="112 or 999 (Ireland)").wait_for()
    context.close()


@pytest.mark.parametrize("stored", ["777001", "telegram:777001", "not-a-session"])
def test_a_tab_holding_a_foreign_session_id_gets_a_fresh_conversation(page, web_stack, stored):
    """The server decides the session: an id it does not hand out (another channel's id, a guess)
    gets a new conversation, and the page drops what it showed for the old id."""
    wait_for_bot(page, 1)
    page.evaluate("""stored => {
        sessionStorage.setItem('willow.session', JSON.stringify(stored));
        sessionStorage.setItem('willow.transcript', JSON.stringify([{from: 'user', text: 'left over'}]));
    }""", stored)
    page.reload()
    page.wait_for_function(
        "stored => JSON.parse(sessionStorage.getItem('willow.session')) !== stored", arg=stored)
    wait_for_bot(page, 1)
    session_id = page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))")
    assert len(session_id) == 32 and session_id != stored
    assert page.locator(".willow-user").count() == 0  # "left over" is gone
    assert bot_texts(page)[0] in first_paragraph("utter_intro")
    events = web_stack.servers.conversation(f"web:{session_id}")["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["/greet"]


def test_a_message_typed_while_offline_is_sent_once_when_back(page, web_stack):
    """Offline (a train tunnel, a server restarting): the message waits, goes out with its id after
    the reconnect, and is answered once."""
    wait_for_bot(page, 1)
    wait_until_quiet(page)
    page.context.set_offline(True)
    page.locator(".willow-status").wait_for(state="visible")  # "Connecting to Willow…"
    shown = len(bot_texts(page))
    page.locator(".willow-input").fill("I cried in therapy today")
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)
    assert len(bot_texts(page)) == shown  # nothing can arrive yet
    page.context.set_offline(False)
    page.get_by_role("button", name="Why does it happen?").wait_for(timeout=60_000)
    wait_until_quiet(page)
    session_id = page.evaluate("JSON.parse(sessionStorage.getItem('willow.session'))")
    events = web_stack.servers.conversation(f"web:{session_id}")["events"]
    said = [e for e in events if e["event"] == "user"]
    assert [e["text"] for e in said][-1] == "I cried in therapy today"
    assert [e["text"] for e in said].count("I cried in therapy today") == 1
    assert len(said[-1]["message_id"]) == 32  # the page's own id, the same on every attempt
    answer = [e["text"] for e in events[events.index(said[-1]):] if e["event"] == "bot"]
    assert len(bot_texts(page)) - shown == len(answer)  # each reply shown once, none twice


@pytest.mark.parametrize("place, links", [
    ("singapore", ['a[href="tel:1771"]', 'a[href="https://wa.me/6566691771"]', 'a[href="tel:995"]']),
    ("south africa", ['a[href="tel:0800567567"]', 'a[href="sms:31393"]', 'a[href="tel:112"]', 'a[href="tel:10111"]']),
    ("australia", ['a[href="tel:131114"]', 'a[href="sms:0477131114"]', 'a[href="tel:000"]']),
])
def test_each_countrys_numbers_are_one_tap(page, place, links):
    # Issue 16's countries and text lines: every number in the crisis reply is a link.
    wait_for_bot(page, 1)
    page.locator(".willow-input").fill(f"i live in {place} and i want to end my life")
    page.keyboard.press("Enter")
    for selector in links:
        page.locator(f".willow-bot {selector}").first.wait_for()
