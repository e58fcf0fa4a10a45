"""``make site``: the static pages, built into a temporary folder from the stored outputs and
opened in Chromium over 127.0.0.1: nothing fetched from another host, every internal link
resolves, the math is typeset, every figure keeps its alt text, and axe-core (WCAG 2 A and AA)
finds no serious or critical violation. The rest of axe's findings are printed by rule."""

from __future__ import annotations

import collections
import functools
import http.server
import re
import subprocess
import sys
import threading
import urllib.parse

import pytest

from .conftest import REPO, require_browser

pytestmark = pytest.mark.browser

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => (await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa']}})).violations.map((v) => ({id: v.id, impact: v.impact,
    nodes: v.nodes.length, target: v.nodes[0].target.join(' ')}))"""


def _has_math(page: str) -> bool:
    """Whether the notebook behind ``page`` has TeX in its prose (``$...$``)."""
    import nbformat

    notebook = REPO / "notebooks" / page.replace(".html", ".ipynb")
    if not notebook.exists():
        return False
    return any(c.cell_type == "markdown" and re.search(r"\$[^$\n]+\$", c.source)
               for c in nbformat.read(notebook, as_version=4).cells)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_browser()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (package.json pins axe-core and MathJax)")
    out = tmp_path_factory.mktemp("site") / "site"
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_site.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield out, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_every_page_is_offline_linked_typeset_and_accessible(site, chromium):
    out, base = site
    pages = sorted(p.name for p in out.glob("*.html"))
    assert "index.html" in pages and len(pages) >= 15, pages
    offsite, missing, serious, others = [], [], [], collections.Counter()
    context = chromium.new_context()

    def guard(route):
        if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page = context.new_page()
    try:
        for name in pages:
            response = page.goto(f"{base}/{name}", wait_until="load")
            assert response.ok, name
            source = (out / name).read_text(encoding="utf-8")
            for href in set(re.findall(r'href="([^"#:]+\.html)', source)):
                if not (out / href).exists():
                    missing.append(f"{name} -> {href}")
            if _has_math(name):  # a page with math in its prose: MathJax typesets it
                page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0",
                                       timeout=30_000)
            images = page.locator("img")
            for i in range(images.count()):
                assert len(images.nth(i).get_attribute("alt") or "") >= 40, f"{name}: image {i}"
            page.add_script_tag(path=str(AXE))
            for v in page.evaluate(_AXE_RUN):
                if v["impact"] in ("serious", "critical"):
                    serious.append(f"{name}: {v['id']} ({v['impact']}, {v['nodes']} nodes, "
                                   f"e.g. {v['target']})")
                else:
                    others[v["id"]] += v["nodes"]
    finally:
        context.close()
    print("axe, moderate and minor findings by rule (nodes):", dict(others))
    assert not offsite, f"the site fetched from beyond 127.0.0.1: {offsite[:5]}"
    assert not missing, f"internal links that do not resolve: {missing}"
    assert not serious, "axe finds serious or critical violations:\n" + "\n".join(serious)
