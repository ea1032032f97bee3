"""The built book in a real browser: headless Debian Chromium driven by Playwright.

Opens the quick build of tests/test_site.py from a local http server and checks what a
reader sees: figures loaded, math typeset, no traceback, explorable figures answering the
keyboard, every navigation link alive, nothing fetched from another host. Skips when Chromium is absent, unless
MAKEMORE_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from conftest import CHAPTERS, executed_notebook

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = {"127.0.0.1", "localhost"}


def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return "Debian chromium is not installed (apt-get install -y chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@pytest.fixture(scope="module")
def browser_page():
    reason = _missing()
    if reason:
        if os.environ.get("MAKEMORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MAKEMORE_REQUIRE_BROWSER=1 but {reason}")
        print(f"skipping the browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.requests = requests
        yield page
        browser.close()


@pytest.fixture(autouse=True)
def stays_on_localhost(request):
    """Whatever a test opened, the browser asked no other host for anything."""
    if "browser_page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("browser_page")
    page.requests.clear()
    yield
    foreign = [u for u in page.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).hostname not in LOCAL]
    assert foreign == [], foreign[:5]


@pytest.fixture(scope="module")
def server(built):
    handler = functools.partial(QuietHandler, directory=built["site"])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield built, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _typeset(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise")


def _image_outputs(nb) -> int:
    return sum("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))


def _math_in_prose(source: Path) -> bool:
    import jupytext
    return any("$" in c.source for c in jupytext.read(source).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("source", CHAPTERS, ids=[s.stem for s in CHAPTERS])
def test_chapter_page_as_a_reader_sees_it(browser_page, server, source):
    build, base = server
    page = browser_page
    response = page.goto(urljoin(base, f"chapters/{source.stem}/"))
    assert response.status == 200
    _typeset(page)
    text = page.inner_text("article")
    assert "Traceback" not in text
    assert "How this page was computed" in text and "mode: quick" in text
    assert "```" not in text and "claims.check" not in text and "{{" not in text     # prose and code, nothing else

    images = page.evaluate("""() => [...document.querySelectorAll('article .jupyter-wrapper img')]
                              .map(img => img.complete && img.naturalWidth > 0)""")
    assert len(images) == _image_outputs(executed_notebook(build, source))
    assert all(images), f"{sum(not ok for ok in images)} figure(s) did not load"

    if _math_in_prose(source):
        assert page.locator("article mjx-container").count() > 0
    raw = page.evaluate("""() => [...document.querySelectorAll('article .jp-RenderedMarkdown')]
                           .map(e => e.innerText).filter(t => t.includes('$$'))""")
    assert raw == [], raw[:1]

    for download in page.locator("p.makemore-downloads a").all():
        href = download.get_attribute("href")
        assert page.request.get(urljoin(page.url, href)).status == 200, href

    solutions = page.locator("details.solution")
    if solutions.count():
        first = solutions.first
        assert first.get_attribute("open") is None  # folded
        first.locator("summary").click()
        assert first.get_attribute("open") is not None  # one click opens it


def test_every_explorable_figure_steps_through_its_frames_from_the_keyboard(browser_page, server):
    """plots.show_explorable on a page: an arrow key on the focused slider shows another frame (a file
    of the site, loaded), its label in the <output> and in aria-valuetext; nothing in the console."""
    _, base = server
    page = browser_page
    errors: list[str] = []
    on_console = lambda message: errors.append(message.text) if message.type == "error" else None
    on_error = lambda error: errors.append(str(error))
    page.on("console", on_console)
    page.on("pageerror", on_error)
    try:
        found = 0
        for source in CHAPTERS:
            assert page.goto(urljoin(base, f"chapters/{source.stem}/")).status == 200
            figures = page.locator("article figure.makemore-explorable")
            for k in range(figures.count()):
                found += 1
                figure = figures.nth(k)
                slider, img, output = figure.locator("input[type=range]"), figure.locator("img"), figure.locator("output")
                before = (img.get_attribute("src"), output.inner_text())
                slider.focus()
                at_end = slider.input_value() == slider.get_attribute("max")
                page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
                after = (img.get_attribute("src"), output.inner_text())
                where = f"{source.stem}, explorable figure {k + 1}"
                assert after[0] != before[0] and after[1] != before[1], (where, before, after)
                assert slider.get_attribute("aria-valuetext") == after[1], where
                loaded = img.evaluate("""img => img.complete ? img.naturalWidth > 0 : new Promise(done => {
                                           img.onload = () => done(img.naturalWidth > 0); img.onerror = () => done(false); })""")
                assert loaded, (where, after[0], "did not load")
        assert found >= 3, f"{found} explorable figures on the chapter pages; the book has three (plots.show_explorable)"
        assert errors == [], errors[:3]
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)


def test_docs_pages_typeset_math_and_survive_instant_navigation(browser_page, server):
    _, base = server
    page = browser_page
    assert page.goto(urljoin(base, "notes/hockey-stick/")).status == 200
    _typeset(page)
    assert page.locator("article mjx-container").count() >= 3
    assert "$$" not in page.inner_text("article")
    # follow the note's link into chapter 2 the way a reader does: Material swaps the page in place
    link = page.locator("article a[href*='02_init']").first
    assert link.count() == 1, "the worked note must link into chapter 2"
    link.click()
    page.wait_for_url("**/chapters/02_init/**")
    page.wait_for_function("() => document.querySelectorAll('article mjx-container').length > 0",
                           timeout=20_000)


def test_a_figure_cited_in_a_note_shows_on_the_notes_page(browser_page, server):
    """docs/notes/hockey-stick.md cites {{ figure 02_init/the-hockey-stick }}: the PNG of this build."""
    build, base = server
    page = browser_page
    assert page.goto(urljoin(base, "notes/hockey-stick/")).status == 200
    images = page.evaluate("""() => [...document.querySelectorAll('article img[src*="assets/figures/02_init/"]')]
                              .map(img => [img.src, img.complete && img.naturalWidth > 0])""")
    assert [ok for _, ok in images] == [True], images
    served = Path(build["site"]) / urlsplit(images[0][0]).path.lstrip("/")   # img.src: the URL the browser loaded
    assert served.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "{{" not in page.inner_text("article")


def test_every_navigation_link_resolves(browser_page, server):
    _, base = server
    page = browser_page
    assert page.goto(base).status == 200
    hrefs = page.evaluate("() => [...document.querySelectorAll('nav.md-nav a.md-nav__link[href]')]"
                          ".map(a => a.href)")
    targets = sorted({h.split("#")[0] for h in hrefs})
    assert len(targets) >= 3 + len(CHAPTERS)
    for url in targets:
        assert urlsplit(url).hostname in LOCAL, url
        assert page.goto(url).status == 200, url
