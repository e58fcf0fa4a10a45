"""The classroom demo in Voilà, in Chromium: no code, no error, every explorer answers its
slider, the projector look, nothing fetched from beyond 127.0.0.1, and a token to get in.

The server is the one `make demo` starts: ``tools/demo.py`` (on a free port, with a random
token), and the address the tests open is the one it prints. Every request of the page is
recorded; one to any other host than 127.0.0.1 is aborted (as in a classroom without
internet) and fails the test. The time from a key press on each explorer's main slider to
the new figure on the page is printed (run pytest with ``-s`` to see it) and written to
``test-artifacts/demo-latency.txt``; screenshots of both looks go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest
from playwright.sync_api import expect

import initcourse
from initcourse.explorers.demo import PROJECTOR_ZOOM

from .axe import audit
from .conftest import ARTIFACTS, REPO, free_port, require_browser

pytestmark = pytest.mark.browser

START_TIMEOUT = 150  # s: Voilà answers, then prints the address
PAGE_TIMEOUT = 240_000  # ms: the kernel runs the whole notebook before the page shows
UPDATE_TIMEOUT = 30_000  # ms for one explorer update

EXPLORERS = sorted(name for name in initcourse.__all__ if name.endswith("_explorer"))
# The slider a demo moves first, by explorer; an explorer not listed: its first slider.
MAIN_SLIDER = {"fan_in_explorer": "fan_in", "depth_explorer": "depth",
               "phase_explorer": "sigma_w2", "training_explorer": "steps",
               "residual_explorer": "depth"}
# What the readout says for the main slider's value, where the test knows it.
READOUT_OF = {"fan_in_explorer": "1/√{}", "depth_explorer": "layer {} / layer 1",
              "training_explorer": "press Train ({} steps)", "residual_explorer": "over {} blocks"}
DEMO_TITLE = "Weight initialization, live"


def _is_local(url: str) -> bool:
    """Whether the page's request ``url`` stays on 127.0.0.1 (data: and blob: of the page
    are made in the browser itself)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "data":
        return True
    if scheme == "blob":
        url = url[len("blob:"):]
    return urllib.parse.urlsplit(url).hostname == "127.0.0.1"


class DemoServer:
    """``tools/demo.py`` running: its printed address, token and output."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.token = secrets.token_urlsafe(24)
        self.log = tmp_path / "demo.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO / "tools" / "demo.py"),
                 f"--port={self.port}", f"--token={self.token}"],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def printed_addresses(self) -> list[str]:
        """The addresses the script printed, once Voilà answers."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.findall(r"^\s+(http://\S+)$", self.log.read_text(), flags=re.M)
            if len(found) >= 2:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.25)
        raise AssertionError(f"tools/demo.py printed no address:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM (Voilà shuts its kernels down), then nothing it started survives."""
        try:
            leftovers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            leftovers = []
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for child in leftovers:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    require_browser()
    server = DemoServer(tmp_path_factory.mktemp("demo"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def offsite():
    """Requests the page tried to send beyond 127.0.0.1 (each was aborted)."""
    return []


@pytest.fixture(scope="module")
def demo_page(chromium, demo_server, offsite):
    """The demo page, opened at the address tools/demo.py printed, fully rendered."""
    addresses = demo_server.printed_addresses()
    classroom, projector = addresses[0], addresses[1]
    assert classroom == f"{demo_server.base}/?token={demo_server.token}", addresses
    assert projector == f"{classroom}&look=projector", addresses

    (ARTIFACTS / "demo-latency.txt").unlink(missing_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})

    def guard(route):
        if _is_local(route.request.url):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page = context.new_page()
    page.on("websocket", lambda ws: None if _is_local(ws.url) else offsite.append(ws.url))
    try:
        page.goto(classroom, wait_until="commit")
        page.locator(".initcourse-demo-explorer img.widget-image").nth(len(EXPLORERS) - 1).wait_for(
            timeout=PAGE_TIMEOUT
        )
        for name in EXPLORERS:
            figure(page, name)  # drawn
        yield page
    finally:
        context.close()
        assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"


# The explorer's picture: its blob URL and natural size once loaded, else null.
_FIGURE = """(name) => {
    const img = document.querySelector(`.initcourse-demo-${name} img.widget-image`);
    if (!img || !img.complete || img.naturalWidth === 0) return null;
    const box = img.getBoundingClientRect();
    return {src: img.src, natural: img.naturalWidth, shown: box.width};
}"""


# The page's content (what the projector look zooms), and how far its cells reach past
# the window's right edge (<= 0: nothing is cut off).
_CONTENT = "document.querySelector('#rendered_cells > div')"
_OVERFLOW = """() => Math.max(...[...document.querySelectorAll('.jp-Cell')].map(
    (cell) => cell.getBoundingClientRect().right)) - window.innerWidth"""


def figure(page, name: str) -> dict:
    """The picture of explorer ``name`` once drawn: its blob URL, natural and shown width."""
    return page.wait_for_function(_FIGURE, arg=name, timeout=UPDATE_TIMEOUT).json_value()


# Times each key press on the page to the new picture of explorer `name`: from the keydown
# to the first animation frame after the new image is decoded.
_TIMER = """(name) => {
    const img = document.querySelector(`.initcourse-demo-${name} img.widget-image`);
    const timer = {pressed: null, samples: []};
    window.__demoTimer = timer;
    document.addEventListener('keydown', () => { timer.pressed = performance.now(); }, true);
    new MutationObserver(() => {
        const pressed = timer.pressed;
        if (pressed === null) return;
        timer.pressed = null;
        img.decode().then(() => requestAnimationFrame(
            () => timer.samples.push(performance.now() - pressed)));
    }).observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def explorer_box(page, name: str):
    return page.locator(f".initcourse-demo-{name}")


def main_slider(page, name: str):
    box = explorer_box(page, name)
    label = MAIN_SLIDER.get(name)
    sliders = box.locator(".widget-slider")
    if label is None:
        return sliders.first
    return sliders.filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{label}\s*$"))
    )


def slider_text(slider) -> str:
    return slider.locator(".widget-readout").inner_text().strip()


def readout_text(page, name: str) -> str:
    return explorer_box(page, name).locator(".initcourse-readout").inner_text()


def timed_presses(page, name: str, look: str) -> str:
    """Press the main slider's arrow keys; each press moves the slider, the readout and the
    picture. Returns a line with the key-press-to-picture times."""
    page.evaluate(_TIMER, name)
    slider = main_slider(page, name)
    handle = slider.locator(".noUi-handle")
    handle.focus()
    # Two steps out, two back, two out, starting away from the end the slider is at: every
    # press moves it (a slider of 5 positions too), new values and values seen before.
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    out, back = ("ArrowLeft", "ArrowRight") if at_end else ("ArrowRight", "ArrowLeft")
    keys = [out, out, back, back, out, out]
    for count, key in enumerate(keys, start=1):
        before = (slider_text(slider), readout_text(page, name))
        handle.press(key)
        page.wait_for_function("(n) => window.__demoTimer.samples.length >= n", arg=count,
                               timeout=UPDATE_TIMEOUT)
        value = slider_text(slider)
        assert value != before[0], f"{name}: {key} did not move its slider ({before[0]})"
        readout = explorer_box(page, name).locator(".initcourse-readout")
        expect(readout).not_to_have_text(before[1], timeout=UPDATE_TIMEOUT)
        if name in READOUT_OF:
            expect(readout).to_contain_text(READOUT_OF[name].format(value), timeout=UPDATE_TIMEOUT)
    samples = page.evaluate("() => window.__demoTimer.samples")
    return (f"demo latency, {look} look, {name} ({MAIN_SLIDER.get(name, 'first slider')}): "
            f"key press -> new figure median {statistics.median(samples):.0f} ms, "
            f"max {max(samples):.0f} ms over {len(samples)} presses")


def drag(page, name: str) -> None:
    """Drag the main slider's handle with the mouse; the readout and the picture follow."""
    slider = main_slider(page, name)
    before = (slider_text(slider), readout_text(page, name), figure(page, name)["src"])
    handle = slider.locator(".noUi-handle").bounding_box()
    track = slider.locator(".noUi-target").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    target = track["x"] + (0.15 if x > track["x"] + track["width"] / 2 else 0.85) * track["width"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(target, y, steps=8)
    page.mouse.up()
    readout = explorer_box(page, name).locator(".initcourse-readout")
    expect(readout).not_to_have_text(before[1], timeout=UPDATE_TIMEOUT)
    value = slider_text(slider)
    assert value != before[0], f"{name}: dragging did not move its slider"
    if name in READOUT_OF:  # the kernel ends on the value the slider shows
        expect(readout).to_contain_text(READOUT_OF[name].format(value), timeout=UPDATE_TIMEOUT)
    page.wait_for_function(f"(n) => ({_FIGURE})(n)?.src !== {before[2]!r}", arg=name,
                           timeout=UPDATE_TIMEOUT)


def test_the_page_needs_the_token(demo_server, chromium):
    demo_server.printed_addresses()  # up
    for query in ("", "?token=not-the-token"):
        try:
            with urllib.request.urlopen(f"{demo_server.base}/{query}", timeout=30) as response:
                final, body = response.url, response.read().decode()
        except urllib.error.HTTPError as error:  # refused outright: also fine
            assert error.code in (401, 403), error
            continue
        assert urllib.parse.urlsplit(final).path == "/login", final
        assert DEMO_TITLE not in body and "initcourse" not in body
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{demo_server.base}/")
        expect(page.locator("#password_input")).to_be_visible()  # the login form
        assert page.locator(".initcourse-demo-explorer").count() == 0
        assert DEMO_TITLE not in page.content()
    finally:
        context.close()


def test_the_page_shows_every_explorer_without_code_or_errors(demo_page, offsite):
    page = demo_page
    expect(page.locator("h1", has_text=DEMO_TITLE)).to_be_visible()
    assert page.locator(".initcourse-demo-explorer").count() == len(EXPLORERS), EXPLORERS
    for name in EXPLORERS:
        expect(explorer_box(page, name)).to_have_count(1)
    # No code: Voilà strips the sources, so no code cell has an input area, no editor or
    # highlighted source is on the page, and no line of the notebook's code shows.
    code = ".jp-CodeCell .jp-InputArea, .jp-CodeCell .jp-InputPrompt, .cm-editor, .highlight"
    assert page.locator(code).count() == 0, page.locator(code).first.inner_html()
    assert page.locator(".jp-CodeCell").count() >= len(EXPLORERS)  # the outputs are there
    text = page.locator("body").inner_text()
    for source in ("import initcourse", "demo.add(", "assert "):
        assert source not in text, f"code on the page: {source!r}"
    # No error: no stderr or error output, no Voilà error note, every widget rendered.
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    for problem in ("There was an error when executing cell", "Traceback", "Error displaying widget",
                    "Loading widget", "Model not found"):
        assert problem not in text, f"the page shows {problem!r}"
    assert page.evaluate(_OVERFLOW) <= 1, "the page is wider than the window"
    screenshots(page, "classroom")
    assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"


def test_every_explorer_follows_its_main_slider(demo_page, offsite):
    lines = []
    for name in EXPLORERS:
        explorer_box(demo_page, name).scroll_into_view_if_needed()
        lines.append(timed_presses(demo_page, name, "classroom"))
        drag(demo_page, name)
    report(lines)
    assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"


def test_the_projector_look(demo_page, offsite):
    page = demo_page
    before = {name: figure(page, name) for name in EXPLORERS}
    label_size = page.locator(".initcourse-readout").first.bounding_box()["height"]
    page.locator(".initcourse-demo-look button", has_text="projector").click()
    page.wait_for_function(f"() => getComputedStyle({_CONTENT}).zoom == '{PROJECTOR_ZOOM}'")
    lines = []
    for name in EXPLORERS:
        # Re-rendered with PROJECTOR_ZOOM times the pixels, shown PROJECTOR_ZOOM times larger.
        after = page.wait_for_function(
            f"(n) => {{ const f = ({_FIGURE})(n); "
            f"return f && f.natural > {before[name]['natural']} * 1.3 ? f : null; }}",
            arg=name, timeout=UPDATE_TIMEOUT,
        ).json_value()
        assert after["natural"] == pytest.approx(PROJECTOR_ZOOM * before[name]["natural"], abs=2)
        assert after["shown"] == pytest.approx(PROJECTOR_ZOOM * before[name]["shown"], rel=0.02)
        explorer_box(page, name).scroll_into_view_if_needed()
        lines.append(timed_presses(page, name, "projector"))
        drag(page, name)  # the mouse still hits the zoomed slider
    assert page.locator(".initcourse-readout").first.bounding_box()["height"] > 1.3 * label_size
    assert page.evaluate(_OVERFLOW) <= 1, "the projector look is wider than the window"
    screenshots(page, "projector")
    report(lines)

    page.locator(".initcourse-demo-look button", has_text="classroom").click()
    page.wait_for_function(f"() => getComputedStyle({_CONTENT}).zoom == '1'")
    for name in EXPLORERS:
        page.wait_for_function(f"(n) => ({_FIGURE})(n)?.natural === {before[name]['natural']}",
                               arg=name, timeout=UPDATE_TIMEOUT)
    assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"


# Scroll explorer `name` to the top of the window, under its heading and what to try.
_SHOW = """(name) => {
    const box = document.querySelector(`.initcourse-demo-${name}`);
    const headings = [...document.querySelectorAll('h2')].filter(
        (h) => h.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING);
    (headings.pop() ?? box).scrollIntoView();
}"""


def screenshots(page, look: str) -> None:
    """test-artifacts/demo-<look>.png (the top of the page) and one per explorer: what the
    window shows with the explorer at its top (element screenshots miss parts of a zoomed
    page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name in EXPLORERS:
        page.evaluate(_SHOW, name)
        page.screenshot(path=str(ARTIFACTS / f"demo-{look}-{name}.png"))
    page.evaluate("() => document.querySelector('h1').scrollIntoView()")
    page.screenshot(path=str(ARTIFACTS / f"demo-{look}.png"))


def report(lines: list[str]) -> None:
    """Print the latency lines and keep them in test-artifacts/demo-latency.txt."""
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "demo-latency.txt").open("a") as file:
        for line in lines:
            print(line)
            file.write(line + "\n")


# The explorer's keyboard-focusable controls, in the page's order, and which of them has the
# focus now (-1: none of them).
_FOCUSABLES = """(name) => {
    const box = document.querySelector(`.initcourse-demo-${name}`);
    const all = [...box.querySelectorAll('select, input, button, textarea, [contenteditable="true"], '
        + '[tabindex]:not([tabindex="-1"])')].filter((el) => !el.disabled && el.offsetParent !== null);
    window.__focusables = all;
    return all.map((el) => el.getAttribute('aria-label') || el.textContent.trim().slice(0, 20)
                           || el.tagName.toLowerCase());
}"""
_FOCUSED = "() => window.__focusables.indexOf(document.activeElement)"


def test_every_explorer_works_from_the_keyboard(demo_page, offsite):
    """Tab reaches each explorer's controls one after another, in the page's order; the keys
    move its sliders (arrows, Page Up/Down) and Enter starts and stops training; the readout,
    the live text of the figure, follows."""
    page = demo_page
    for name in EXPLORERS:
        box = explorer_box(page, name)
        box.scroll_into_view_if_needed()
        labels = page.evaluate(_FOCUSABLES, name)
        assert len(labels) >= 2, f"{name}: {labels}"
        print(f"keyboard: {name}: Tab order {labels}")
        page.evaluate("() => window.__focusables[0].focus()")
        order = [page.evaluate(_FOCUSED)]
        for _ in range(len(labels) - 1):
            page.keyboard.press("Tab")
            order.append(page.evaluate(_FOCUSED))
        assert order == list(range(len(labels))), f"{name}: Tab visited {order} of {labels}"
        readout = box.locator(".initcourse-readout")
        assert box.locator(".initcourse-readout [role=status]").count() == 1, name
        if name == "training_explorer":
            before = readout.inner_text()
            box.locator(".initcourse-train").focus()
            page.keyboard.press("Enter")
            expect(readout).not_to_have_text(before, timeout=UPDATE_TIMEOUT)
            box.locator(".initcourse-stop").focus()
            page.keyboard.press("Enter")
            continue
        slider = main_slider(page, name)
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for key in ("PageDown", "PageUp") if handle.get_attribute("aria-valuenow") == \
                handle.get_attribute("aria-valuemax") else ("PageUp", "PageDown"):
            before = (slider_text(slider), readout.inner_text())
            page.keyboard.press(key)
            expect(readout).not_to_have_text(before[1], timeout=UPDATE_TIMEOUT)
            assert slider_text(slider) != before[0], f"{name}: {key} did not move its slider"
    assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"


def test_axe_finds_no_serious_violation_of_the_course_in_either_look(demo_page, offsite):
    """axe-core (WCAG 2 A/AA) on the demo page in the classroom and the projector look: no
    serious or critical violation in the course's content (its prose, the explorers'
    widgets); Voilà's own findings are printed by rule and written to
    test-artifacts/axe-voila.txt."""
    page = demo_page
    serious, _ = audit(page, "voila: classroom look")
    page.locator(".initcourse-demo-look button", has_text="projector").click()
    page.wait_for_function(f"() => getComputedStyle({_CONTENT}).zoom == '{PROJECTOR_ZOOM}'")
    for name in EXPLORERS:
        figure(page, name)
    found, _ = audit(page, "voila: projector look")
    serious += found
    page.locator(".initcourse-demo-look button", has_text="classroom").click()
    page.wait_for_function(f"() => getComputedStyle({_CONTENT}).zoom == '1'")
    assert not serious, "axe finds serious or critical violations in the course's content:\n" + (
        "\n".join(serious))
    assert not offsite, f"the demo page sent requests beyond 127.0.0.1: {offsite}"
