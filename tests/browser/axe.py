"""axe-core (pinned in package.json, injected by Playwright) on a page of JupyterLab or
Voilà: WCAG 2 A and AA rules, each violation's nodes split into those inside the course's
own content (rendered Markdown, cell outputs, the explorers' widgets) and those of the
application around it (JupyterLab's or Voilà's own interface)."""

from __future__ import annotations

import collections
import time

from .conftest import ARTIFACTS, REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
#: Known defects of the application or the widget library, not of what the course gives
#: them: rule -> (a piece of the node's HTML or selector, whose it is). ipywidgets 8's
#: slider (noUiSlider) gives its handle, the role="slider" element, no accessible name; and
#: JupyterLab 4's image renderer drops the alt text an output carries (its image/png
#: metadata "alt", which every stored figure of the course has, a test holds it, and which
#: nbconvert and the static site keep). The demo page's template names the handles and gives
#: the explorers' live pictures their readout as alt; JupyterLab has no such hook (it would
#: take an extension).
KNOWN_DEFECTS = {"aria-input-field-name": ("noUi-handle", "ipywidgets' own"),
                 "image-alt": (".jp-RenderedImage", "JupyterLab's own: metadata alt dropped")}
#: What the course puts on the page: its Markdown, rendered, and its cells' outputs.
COURSE_CONTENT = (".jp-MarkdownOutput", ".jp-RenderedMarkdown", ".jp-OutputArea-output")
_RUN = """async (course) => {
    const result = await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa']}});
    const inCourse = (target) => {
        let element = null;
        try { element = document.querySelector(target[0]); } catch (e) { return false; }
        return element !== null && course.some((sel) => element.closest(sel) !== null);
    };
    return result.violations.map((v) => ({id: v.id, impact: v.impact,
        nodes: v.nodes.map((n) => ({target: n.target.join(' '), course: inCourse(n.target),
                                    html: n.html.slice(0, 160)}))}));
}"""


def audit(page, where: str, known=()):
    """Run axe on ``page``: (the course's serious or critical violations, as lines; every
    finding outside the course's content by ``rule (impact)``: node count). The second is
    appended to ``test-artifacts/axe-<where>.txt``. ``known``: rules of
    :data:`KNOWN_DEFECTS` counted as the application's or library's own here (listed, never
    dropped)."""
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci` (package.json pins axe-core)")
    start = time.perf_counter()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    course, owner, course_minor = [], collections.Counter(), collections.Counter()
    for violation in page.evaluate(_RUN, list(COURSE_CONTENT)):
        rule = f"{violation['id']} ({violation['impact']})"
        piece, whose = KNOWN_DEFECTS.get(violation["id"], ("", ""))
        for node in violation["nodes"]:
            if (node["course"] and violation["id"] in known
                    and (piece in node["html"] or piece in node["target"])):
                node["course"] = False
                owner[f"{rule}, {whose}"] += 1
            elif not node["course"]:
                owner[rule] += 1
        ours = [n for n in violation["nodes"] if n["course"]]
        if ours and violation["impact"] in ("serious", "critical"):
            course.append(f"{where}: {rule}, {len(ours)} nodes, e.g. {ours[0]['target']}: "
                          f"{ours[0]['html']}")
        elif ours:
            course_minor[rule] += len(ours)
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / f"axe-{where.split(':')[0]}.txt", "a", encoding="utf-8") as handle:
        handle.write(f"{where}: application's own: {dict(sorted(owner.items()))}; course's "
                     f"moderate/minor: {dict(sorted(course_minor.items()))}\n")
    seconds = time.perf_counter() - start
    with open(ARTIFACTS / "axe-seconds.txt", "a", encoding="utf-8") as handle:
        handle.write(f"{where}\t{seconds:.2f}\n")
    print(f"axe {where} ({seconds:.1f} s): application's own findings by rule (nodes): "
          f"{dict(sorted(owner.items()))}; the course's moderate/minor: "
          f"{dict(sorted(course_minor.items()))}")
    return course, owner
