"""End to end: Chromium (headless, Playwright) against a real ``podium serve`` on scripted and test models."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Served, open_page

pytestmark = [pytest.mark.browser, pytest.mark.requires("chromium")]
expect: Any = pytest.importorskip("playwright.sync_api").expect


def send(page: Any, text: str) -> None:
    page.locator("#prompt").fill(text)
    page.keyboard.press("Enter")


def png(width: int = 3, height: int = 2) -> bytes:
    """A small valid PNG."""
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


ANSWER = (
    "Here is **the function**:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
    '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    "[a link](javascript:window.__xss=3)"
)


def test_a_full_chat_with_streaming_markdown_code_thinking_and_copy(browser: Any, served: Served) -> None:
    cid = served.conversation(served.script("chat", [{"thinking": "The user wants code.", "text": ANSWER}]))
    page = open_page(browser, served, f"/c/{cid}", permissions=["clipboard-read", "clipboard-write"])
    send(page, "write add")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator("strong")).to_have_text("the function")
    code = answer.locator("pre code.hljs")
    expect(code).to_contain_text("def add(a, b):")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")  # highlighted
    thinking = answer.locator("details.thinking")
    expect(thinking).to_have_count(1)
    assert thinking.get_attribute("open") is None  # collapsed
    thinking.locator("summary").click()
    expect(thinking.locator("div")).to_have_text("The user wants code.")
    # model output never runs as code: no handler, no script, no javascript: link
    assert page.evaluate("window.__xss") is None
    assert answer.locator("[onerror], script").count() == 0
    href = answer.locator("a").first.get_attribute("href")
    assert href is None or not href.startswith("javascript:")
    answer.locator("pre .copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "def add(a, b):\n    return a + b\n"
    expect(answer.locator(".meta")).to_contain_text("in ·")  # tokens of this answer
    expect(page.locator("#usage")).to_contain_text("Σ")  # and of the conversation
    assert page.errors == []


def test_the_answer_streams_before_it_ends(browser: Any, served: Served) -> None:
    cid = served.conversation("test:slow")
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "one two three four five six seven eight")
    partial = page.locator("#live .msg.assistant .md")
    expect(partial).to_contain_text("You said:")
    assert "eight" not in partial.inner_text()  # still streaming
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#history .msg.assistant")).to_contain_text("eight", timeout=20_000)
    expect(page.locator("#stop")).to_be_hidden()


def _approval_script(served: Served, name: str, content: str) -> str:
    call = {"name": "write_file", "args": {"path": ".envrc", "content": content}}
    return served.script(name, [{"text": "I will write it.", "calls": [call]}, "Done."])


def test_a_tool_call_approved_with_a_click(browser: Any, served: Served) -> None:
    envrc = served.workspace / ".envrc"
    envrc.unlink(missing_ok=True)
    cid = served.conversation(
        _approval_script(served, "allow", "export OK=1 # <b>x</b><img src=x onerror=window.__xss=9>")
    )
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "set up direnv")
    card = page.locator(".approval")
    expect(card).to_contain_text("write_file")
    expect(card).to_contain_text(".envrc")
    assert not envrc.exists()
    card.get_by_role("button", name="Allow", exact=True).click()
    expect(page.locator("#history .msg.assistant").last).to_contain_text("Done.")
    assert envrc.read_text().startswith("export OK=1 # <b>")
    tool = page.locator("details.tool").first
    expect(tool).to_have_class(re.compile(r"\bok\b"))
    expect(tool.locator(".status")).to_contain_text(re.compile(r"done · \d+"))  # with its duration
    tool.locator("summary").click()
    expect(tool).to_contain_text("export OK=1 # <b>x</b><img")  # tool arguments are shown as text, never HTML
    assert tool.locator("b, img").count() == 0
    assert page.evaluate("window.__xss") is None
    expect(page.locator(".approval")).to_have_count(0)


def test_a_tool_call_denied_with_a_click(browser: Any, served: Served) -> None:
    envrc = served.workspace / ".envrc"
    envrc.unlink(missing_ok=True)
    cid = served.conversation(_approval_script(served, "deny", "export BAD=1"))
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "set up direnv")
    page.locator(".approval").get_by_role("button", name="Deny").click()
    expect(page.locator("#history .msg.assistant").last).to_contain_text("Done.")
    assert not envrc.exists()
    tool = page.locator("details.tool").first
    expect(tool).to_have_class(re.compile(r"\berror\b"))
    expect(tool.locator(".status")).to_contain_text("error")


def test_interrupt_mid_answer_with_escape_and_with_the_button(browser: Any, served: Served) -> None:
    cid = served.conversation("test:slow")
    page = open_page(browser, served, f"/c/{cid}")
    words = " ".join(f"word{i}" for i in range(80))
    send(page, words)
    expect(page.locator("#live .msg.assistant .md")).to_contain_text("word1")
    page.keyboard.press("Escape")
    expect(page.locator("#notice")).to_contain_text("Stopped")
    expect(page.locator("#stop")).to_be_hidden()
    assert "word79" not in " ".join(page.locator(".msg.assistant").all_inner_texts())
    expect(page.locator("#history .msg.user")).to_have_count(1)
    # the conversation goes on; the stop button stops too
    send(page, words)
    expect(page.locator("#live .msg.assistant .md")).to_contain_text("word1")
    page.locator("#stop").click()
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#history .msg.user")).to_have_count(2)


def test_a_message_sent_while_the_agent_works_steers_it(browser: Any, served: Served) -> None:
    cid = served.conversation("test:slow")
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "alpha beta gamma delta epsilon zeta")
    expect(page.locator("#live .msg.assistant .md")).to_contain_text("You said")
    expect(page.locator("#send")).to_have_text("Send now")
    send(page, "steer now")
    expect(page.locator("#history .msg.assistant").last).to_contain_text("steer now", timeout=20_000)
    expect(page.locator("#history .msg.user")).to_have_count(2)
    expect(page.locator("#history .msg.user").last).to_have_text("steer now")


def test_an_approval_by_keyboard_alone(browser: Any, served: Served) -> None:
    envrc = served.workspace / ".envrc"
    envrc.unlink(missing_ok=True)
    cid = served.conversation(_approval_script(served, "keys", "export KEYS=1"))
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "set up direnv")
    allow = page.locator(".approval").get_by_role("button", name="Allow", exact=True)
    expect(allow).to_be_visible()
    page.locator("#prompt").focus()
    for _ in range(10):  # Shift+Tab back from the message box to the card's buttons
        if page.evaluate("document.activeElement.classList.contains('allow')"):
            break
        page.keyboard.press("Shift+Tab")
    expect(allow).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#history .msg.assistant").last).to_contain_text("Done.")
    assert envrc.read_text() == "export KEYS=1"


def test_a_reload_keeps_the_conversation(browser: Any, served: Served) -> None:
    cid = served.conversation()
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "remember **this**")
    expect(page.locator("#history .msg.assistant strong")).to_have_text("this")
    page.reload()
    expect(page.locator("#history .msg.user")).to_have_text("remember **this**")
    expect(page.locator("#history .msg.assistant strong")).to_have_text("this")
    assert page.url.endswith(f"/c/{cid}")
    expect(page.locator("#conversations [aria-current=page]")).to_contain_text("remember")


def test_a_reload_mid_answer_catches_up(browser: Any, served: Served) -> None:
    cid = served.conversation("test:slow")
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "a b c d e f g h i j k")
    expect(page.locator("#live .msg.assistant .md")).to_contain_text("You said")
    page.reload()
    expect(page.locator("#stop")).to_be_visible()  # the turn is still running, and shown
    expect(page.locator("#history .msg.assistant")).to_contain_text("k", timeout=20_000)
    expect(page.locator(".msg.user")).to_have_count(1)
    expect(page.locator(".msg.assistant")).to_have_count(1)


def test_fork_undo_and_redo(browser: Any, served: Served) -> None:
    cid = served.conversation()
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "first")
    expect(page.locator("#history .msg.assistant")).to_have_count(1)
    send(page, "second")
    expect(page.locator("#history .msg.assistant")).to_have_count(2)
    # fork from the first answer: a new conversation with that much
    page.locator("#history .msg.assistant").first.get_by_role("button", name="Fork from here").click()
    expect(page).not_to_have_url(re.compile(cid))
    expect(page.locator("#history .msg.user")).to_have_count(1)
    expect(page.locator("#history .msg.user")).to_have_text("first")
    # back to the original: undo hides the last exchange, redo brings it back
    page.goto(f"{served.base}/c/{cid}")
    expect(page.locator("#history .msg.user")).to_have_count(2)
    page.locator("#undo").click()
    expect(page.locator("#history .msg.user")).to_have_count(1)
    expect(page.locator("#redo")).to_be_enabled()
    page.locator("#redo").click()
    expect(page.locator("#history .msg.user")).to_have_count(2)
    expect(page.locator("#history .msg.user").last).to_have_text("second")


def test_rename_search_and_delete_from_the_page(browser: Any, served: Served) -> None:
    cid = served.conversation()
    page = open_page(browser, served, f"/c/{cid}")
    send(page, "platypus facts")
    expect(page.locator("#history .msg.assistant")).to_have_count(1)
    page.locator("#title").click()
    page.locator("#title-input").fill("Monotremes")
    page.keyboard.press("Enter")
    expect(page.locator("#title")).to_have_text("Monotremes")
    page.locator("#search").fill("platypus")
    expect(page.locator("#conversations li")).to_have_count(1)
    expect(page.locator("#conversations li")).to_contain_text("Monotremes")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#delete").click()
    page.locator("#search").fill("")
    page.locator("#search").fill("platypus")
    expect(page.locator("#conversations")).to_contain_text("No conversation matches")


def test_an_uploaded_image_reaches_the_model_as_an_image_part(browser: Any, served: Served, tmp_path: Path) -> None:
    image = png()
    (tmp_path / "dot.png").write_bytes(image)
    cid = served.conversation("test:describe")
    page = open_page(browser, served, f"/c/{cid}")
    page.locator("#file-input").set_input_files(str(tmp_path / "dot.png"))
    expect(page.locator("#attachments .chip")).to_contain_text("dot.png")
    send(page, "what is this?")
    answer = page.locator("#history .msg.assistant")
    expect(answer).to_contain_text(f"image image/png {len(image)} bytes")
    expect(answer).to_contain_text("text 'what is this?'")
    shown = page.locator("#history .msg.user img")
    expect(shown).to_have_count(1)
    assert base64.b64decode(shown.get_attribute("src").split(",", 1)[1]) == image
    expect(page.locator("#attachments .chip")).to_have_count(0)


def test_a_pasted_image_and_a_pdf_are_attached_too(browser: Any, served: Served, tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    cid = served.conversation("test:describe")
    page = open_page(browser, served, f"/c/{cid}")
    data = list(png())
    page.locator("#prompt").evaluate(
        """(el, bytes) => {
            const file = new File([new Uint8Array(bytes)], "clip.png", {type: "image/png"});
            const data = new DataTransfer(); data.items.add(file);
            el.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        data,
    )
    page.locator("#file-input").set_input_files(str(tmp_path / "doc.pdf"))
    expect(page.locator("#attachments .chip")).to_have_count(2)
    send(page, "both")
    answer = page.locator("#history .msg.assistant")
    expect(answer).to_contain_text("image image/png")
    expect(answer).to_contain_text("file application/pdf 15 bytes")


def test_model_picker_and_workspace_files(browser: Any, served: Served) -> None:
    (served.workspace / "notes.md").write_text("# Notes\nhello from the workspace\n")
    cid = served.conversation()
    page = open_page(browser, served, f"/c/{cid}")
    page.locator("#model").select_option("test:echo")
    page.locator("#files").click()
    dialog = page.locator("#files-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=re.compile("notes.md")).click()
    expect(dialog.locator(".file-view")).to_contain_text("hello from the workspace")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_keyboard_only_and_narrow_width(browser: Any, served: Served) -> None:
    cid = served.conversation()
    page = open_page(browser, served, f"/c/{cid}", viewport={"width": 390, "height": 844}, is_mobile=True)
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    expect(page.locator("#menu")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.locator("#prompt").focus()
    page.keyboard.type("typed with keys")
    page.keyboard.press("Enter")
    expect(page.locator("#history .msg.assistant")).to_have_text(re.compile("typed with keys"))
    page.locator("#menu").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()


def test_dark_theme_follows_the_system(browser: Any, served: Served) -> None:
    light = open_page(browser, served, color_scheme="light")
    dark = open_page(browser, served, color_scheme="dark")
    background = "getComputedStyle(document.body).backgroundColor"
    assert light.evaluate(background) != dark.evaluate(background)
    assert dark.evaluate(background) == "rgb(19, 19, 23)"


def test_a_page_on_another_site_cannot_use_the_server(browser: Any, served: Served) -> None:
    """Even in the browser that holds the cookie, a foreign page's fetch, EventSource and WebSocket fail."""
    page = open_page(browser, served)  # this context has the cookie
    with served.client() as c:
        before = len(c.get("/api/conversations").json()["conversations"])
    evil = "http://evil.example/"
    page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>evil</h1>"))
    page.goto(evil)
    outcome = page.evaluate(
        """async (base) => {
            const out = {};
            try {
                const r = await fetch(base + "/api/conversations", {method: "POST", credentials: "include",
                    mode: "no-cors", body: "{}"});
                out.fetch = r.type;
            } catch (e) { out.fetch = "failed"; }
            out.sse = await new Promise((resolve) => {
                const es = new EventSource(base + "/api/conversations/x/events", {withCredentials: true});
                es.onopen = () => { es.close(); resolve("open"); };
                es.onerror = () => { es.close(); resolve("error"); };
            });
            out.ws = await new Promise((resolve) => {
                const ws = new WebSocket(base.replace("http", "ws") + "/api/conversations/x/events");
                ws.onopen = () => resolve("open");
                ws.onerror = () => resolve("error");
            });
            return out;
        }""",
        served.base,
    )
    assert outcome["sse"] == "error"
    assert outcome["ws"] == "error"
    with served.client() as c:
        assert len(c.get("/api/conversations").json()["conversations"]) == before  # the POST did nothing
    # and a browser without the token gets nothing but the refusal
    ctx = browser.new_context()
    bare = ctx.new_page()
    response = bare.goto(served.base + "/")
    assert response.status == 401
    assert "token" in bare.content()
    ctx.close()


@pytest.mark.slow
def test_one_chat_on_the_embedded_model(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("llama_cpp", reason="the embedded model needs the local extra: make test-slow installs it")
    from tests.web.conftest import start_server, stop_server

    server = start_server(tmp_path_factory.mktemp("embedded"), model="local:")
    try:
        page = open_page(browser, server)
        send(page, "Say hello.")
        expect(page.locator("#history .msg.assistant .md")).not_to_be_empty(timeout=120_000)
        assert page.locator("#history .msg.assistant .md").inner_text().strip()
    finally:
        stop_server(server)
