"""``make site``: the course as static HTML pages, from the notebooks' stored outputs.

    python tools/build_site.py [--out _build/site]

Each notebook becomes one page (nbconvert's HTML exporter, ``classic`` template: it writes
every stored figure's ``image/png`` ``alt`` metadata into its ``<img>``), nothing is executed.
Links between notebooks point at the pages; an explorer's cell shows its stored frame with a
note that it is live in JupyterLab. The pages load nothing from another host: the template's
CDN scripts (jQuery, require.js, MathJax 2) are dropped and MathJax 3, installed by npm
(``package.json``), is served from the site itself. ``index.html`` holds the map of the course
and how to run it live.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import time
from pathlib import Path

import mistune
import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MATHJAX = ROOT / "node_modules" / "mathjax" / "es5"
PAGE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
_CDN_SCRIPT = re.compile(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>\s*', re.I)
# nbconvert's mermaid loader (an ES module imported from a CDN): the course draws no diagrams.
_MERMAID = re.compile(r'<script type="module">\s*import mermaid from \'https?://[^<]*</script>\s*', re.S)
_INLINE_MATHJAX2 = re.compile(r"<!-- Load mathjax -->.*?</script>\s*(?=<!-- End of mathjax configuration -->)"
                              r"<!-- End of mathjax configuration -->", re.S)
_MATHJAX3 = """<script>
window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
                        displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true},
                  options: {ignoreHtmlClass: 'jp-OutputArea|output_area|highlight'}};
</script>
<script src="mathjax/tex-chtml.js" defer></script>
"""
# Colours of the exporter's stylesheet that fail WCAG AA's 4.5:1 contrast on white, darkened
# (pygments' operator words and decorators, the ANSI colours of printed output, the prompts).
_CONTRAST_CSS = """<style>
.highlight .ow, .highlight .nd { color: #7b1fa2; }
.ansi-green-fg { color: #00692e; } .ansi-cyan-fg { color: #00656c; }
.ansi-yellow-fg { color: #6b5200; } .ansi-blue-fg { color: #0b5394; }
.ansi-red-fg, .ansi-bold { color: #a8201a; } .ansi-black-intense-fg { color: #1a1a1a; }
.output_area pre span[style] { color: #333 !important; }
div.prompt, .prompt, .output_prompt { color: #1a237e; }
.rendered_html a, a { color: #0b4f8a; }
</style>
"""
_LIVE_NOTE = ("*The figure above is this explorer's stored frame. Its controls are live in "
              "JupyterLab: `make lab`, then run this notebook.*")


def _is_explorer(cell) -> bool:
    return cell.cell_type == "code" and any(
        "Explorer(" in "".join(o.get("data", {}).get("text/plain", ""))
        for o in cell.get("outputs", []))


def _page_notebook(path: Path):
    """The notebook as the page shows it: a note after each explorer's stored frame."""
    nb = copy.deepcopy(nbformat.read(path, as_version=4))
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if _is_explorer(cell):
            cells.append(nbformat.v4.new_markdown_cell(_LIVE_NOTE))
    nb.cells = cells
    return nb


def _fix_html(body: str, title: str) -> str:
    body = _CDN_SCRIPT.sub("", body)
    body = _MERMAID.sub("", body)
    body = _INLINE_MATHJAX2.sub("", body)
    body = body.replace("</head>", _MATHJAX3 + _CONTRAST_CSS + "</head>", 1)
    body = re.sub(r'href="(\d\d_[a-z0-9_]+)\.ipynb(#[^"]*)?"', r'href="\1.html\2"', body)
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    if '<html lang=' not in body:
        body = body.replace("<html>", '<html lang="en">', 1)
    nav = ('<nav aria-label="course"><p><a href="index.html">initcourse: the map of the '
           'course</a></p></nav>\n')
    return body.replace('<div tabindex="-1" id="notebook"', nav + '<div tabindex="-1" id="notebook"', 1) \
        if '<div tabindex="-1" id="notebook"' in body else body.replace("<body>", "<body>\n" + nav, 1)


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"[`*]", "", line[2:]).strip()
    return fallback


def _index(pages: list[tuple[str, str]]) -> str:
    start = nbformat.read(NOTEBOOKS / "01_start_here.ipynb", as_version=4)
    course_map = next(c.source for c in start.cells if c.cell_type == "markdown"
                      and c.source.startswith("## The map"))
    course_map = re.sub(r"\((\d\d_[a-z0-9_]+)\.ipynb\)", r"(\1.html)", course_map)
    text = f"""# initcourse: weight initialization, measured

An interactive course, in JupyterLab notebooks on JAX and Flax, on why the initial values of a
network's weights decide whether training works at all. These pages are the notebooks as
stored, with their outputs: every figure, table and checked claim of one top-to-bottom run.

**Run it live.** Clone the course, then `make lab` (JupyterLab on the notebooks; the explorers'
controls move, the exercises' checks run) or `make demo` (the explorers on one page, for a
classroom). Both need only Python 3.11 and `make`.

{course_map.replace("## The map", "## The map of the course", 1)}
"""
    body = mistune.html(text)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>initcourse: weight initialization, measured</title>
<style>body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
line-height: 1.5; color: #1a1a1a; }} table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
a {{ color: #0b5394; }} code {{ background: #f3f3f3; }}</style>
{_MATHJAX3}</head>
<body><main>
{body}
</main></body></html>
"""


def build(out: Path) -> list[Path]:
    if not MATHJAX.is_dir():
        raise SystemExit("make site needs MathJax from npm: run `npm ci` in the repository "
                         f"(it installs package.json's pins); {MATHJAX} is missing")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # MathJax's one-file TeX bundle and the fonts it loads (not its other 20 MiB of bundles).
    (out / "mathjax").mkdir()
    shutil.copy2(MATHJAX / "tex-chtml.js", out / "mathjax" / "tex-chtml.js")
    shutil.copytree(MATHJAX / "output" / "chtml" / "fonts", out / "mathjax" / "output" / "chtml" / "fonts")
    exporter = HTMLExporter(template_name="classic")
    written, pages = [], []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        if not PAGE.match(path.name):
            continue
        nb = _page_notebook(path)
        title = _title(nb, path.stem)
        body, _ = exporter.from_notebook_node(nb)
        target = out / f"{path.stem}.html"
        target.write_text(_fix_html(body, title), encoding="utf-8")
        written.append(target)
        pages.append((path.stem, title))
    (out / "index.html").write_text(_index(pages), encoding="utf-8")
    return [out / "index.html", *written]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "site")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"site: {len(pages)} pages in {args.out} ({size / 2**20:.1f} MiB with MathJax) "
          f"in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
