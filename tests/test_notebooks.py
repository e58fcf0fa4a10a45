"""Hygiene of the committed notebooks: what a learner sees before running anything, and what
nbval compares, comes from one clean top-to-bottom run."""

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SEQUENCE = [p for p in NOTEBOOKS if re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name)]
# Outside the numbered sequence: the classroom demo page (`make demo`). It is not a lesson
# (no objectives or questions), but it is kept as clean as one: the hygiene tests cover it.
OUTSIDE_SEQUENCE = {"demo.ipynb"}
MAX_BYTES = 1024 * 1024


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _raises_on_purpose(cell) -> bool:
    return "NBVAL_RAISES_EXCEPTION" in cell.source or "raises-exception" in cell.metadata.get(
        "tags", []
    )


def test_the_sequence_is_numbered_from_01_without_gaps():
    assert NOTEBOOKS, "no notebooks found"
    lessons = [p for p in NOTEBOOKS if p.name not in OUTSIDE_SEQUENCE]
    assert SEQUENCE == lessons, "every notebook is named NN_snake_case.ipynb"
    numbers = [int(p.name[:2]) for p in SEQUENCE]
    assert numbers == list(range(1, len(numbers) + 1))


def test_every_notebook_is_on_the_start_here_map():
    start = nbformat.read(SEQUENCE[0], as_version=4)
    assert SEQUENCE[0].name == "01_start_here.ipynb"
    text = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    missing = [p.name for p in SEQUENCE[1:] if f"({p.name})" not in text]
    assert not missing, f"not linked from the map in 01_start_here.ipynb: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_come_from_one_clean_run(path):
    cells = _code_cells(path)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}: re-run it with `make notebooks`"
    )
    assert sum(len(c.outputs) for c in cells) > 0, f"{path.name} was committed without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_where_intended(path):
    for index, cell in enumerate(_code_cells(path), start=1):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if _raises_on_purpose(cell):
            assert errors, f"{path.name} cell [{index}] is marked to raise but shows no error"
        else:
            assert not errors, (
                f"{path.name} cell [{index}] shows {errors[0].ename}: {errors[0].evalue}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_size_and_clean_metadata(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    raw = json.loads(path.read_text())
    assert "widgets" not in raw["metadata"], f"{path.name} stores widget state"
    assert raw["metadata"].get("kernelspec", {}).get("name") == "python3"
    for cell in _code_cells(path):
        for output in cell.outputs:
            text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
            assert "<Figure size" not in text, f"{path.name}: a stored '<Figure size ...>' repr"
            assert not re.search(r" at 0x[0-9a-f]{6,}", text), f"{path.name}: object address"
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), (
                f"{path.name}: a stored widget view (its model is gone): `make notebooks`"
            )


@pytest.mark.parametrize("path", SEQUENCE, ids=lambda p: p.name)
def test_numbered_sections_run_without_gaps(path):
    """``## 1.``, ``## 2.``, ...: a section whose heading went missing (its derivation with it)
    shows as a gap; the objectives and the summary promise every section."""
    numbers = [int(n) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
               for n in re.findall(r"^## (\d+)\.", c.source, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: sections {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_stored_figure_has_a_text_alternative(path):
    """Each stored image carries alt text in its output metadata (what nbconvert and Jupyter
    Book read), made from the figure's data: numbers, not just a title."""
    for index, cell in enumerate(_code_cells(path), start=1):
        for output in cell.outputs:
            if "image/png" not in output.get("data", {}):
                continue
            alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
            assert len(alt) >= 40 and re.search(r"\d", alt), (
                f"{path.name} cell [{index}]: a figure without a text alternative (alt {alt!r}): "
                "show it with initcourse.figures.show, or end the cell with the explorer"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(path):
    for index, cell in enumerate(_code_cells(path), start=1):
        for line in cell.source.splitlines():
            if "NBVAL_IGNORE_OUTPUT" in line:
                reason = line.split("NBVAL_IGNORE_OUTPUT", 1)[1].strip(" :-—")
                assert len(reason) > 10, (
                    f"{path.name} cell [{index}]: say why its output is not compared"
                )


@pytest.mark.parametrize("path", SEQUENCE, ids=lambda p: p.name)
def test_objectives_summary_and_questions(path):
    cells = nbformat.read(path, as_version=4).cells
    markdown = [c.source.lower() for c in cells if c.cell_type == "markdown"]
    assert any("learning objectives" in m or "you will learn" in m for m in markdown[:3]), (
        f"{path.name}: learning objectives belong at the top"
    )
    tail = "\n".join(markdown[-4:])
    assert "summary" in tail, f"{path.name}: end with a short summary"
    assert "check yourself" in tail or "check-yourself" in tail, (
        f"{path.name}: end with check-yourself questions"
    )


# -- checked claims ------------------------------------------------------------------------

CHECK_CALL = re.compile(r"\b(?:initcourse\.)?claim\(|^\s*assert\b", re.MULTILINE)
COMMENTED_CHECK = re.compile(r"^\s*#.*(?:\bclaim\(|\bassert\s)", re.MULTILINE)
LITERAL_CHECK = re.compile(r"\bclaim\(\s*(?:True|1|not\s+False)\s*,|\bassert\s+(?:True|1)\b")
CHECK_MARK = "✓ "


def _skipped(cell) -> bool:
    return "NBVAL_SKIP" in cell.source or "nbval-skip" in cell.metadata.get("tags", [])


def _stored_text(cell) -> str:
    parts = []
    for output in cell.outputs:
        text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


@pytest.mark.parametrize("path", SEQUENCE, ids=lambda p: p.name)
def test_lessons_are_checked_claims(path):
    """A notebook that computes anything asserts the claims its prose makes from it: a version
    bump that makes a sentence false then fails nbval with the sentence as the reason."""
    cells = _code_cells(path)
    if not cells:
        return  # nothing computed, nothing to claim
    live = [c for c in cells if not _skipped(c) and not _raises_on_purpose(c)]
    assert any(CHECK_CALL.search(c.source) for c in live), (
        f"{path.name}: no `initcourse.claim(condition, 'the claim')` or `assert` in a cell that "
        "runs: assert the claims the text makes"
    )
    for index, cell in enumerate(cells, start=1):
        where = f"{path.name} cell [{index}]"
        assert not COMMENTED_CHECK.search(cell.source), f"{where}: a claim is commented out"
        assert not LITERAL_CHECK.search(cell.source), f"{where}: a claim that cannot fail"
        if _skipped(cell):
            assert not CHECK_CALL.search(cell.source), f"{where}: a claim in an NBVAL_SKIP cell"
        if "claim(" in cell.source:
            assert not _raises_on_purpose(cell), (
                f"{where}: a claim in a cell that is expected to raise is never checked"
            )
            assert CHECK_MARK in _stored_text(cell), (
                f"{where}: calls claim() but its stored output shows no '✓': re-run it"
            )


# -- answers on demand ---------------------------------------------------------------------

QUESTION_HEAD = re.compile(r"\*\*try this|^#+\s*check yourself|\*\*check yourself",
                           re.IGNORECASE | re.MULTILINE)
DETAILS = re.compile(r"<details>\s*<summary>.*?</summary>(.*?)</details>", re.DOTALL)
NUMBERED = re.compile(r"^\s*(\d+)\.\s", re.MULTILINE)


def _question_blocks(path):
    """(where, text) for each "Try this" / "Check yourself" block: the text from its heading to
    the next heading of that kind, in its markdown cell and the next markdown cell."""
    markdown = [c.source for c in nbformat.read(path, as_version=4).cells
                if c.cell_type == "markdown"]
    for i, source in enumerate(markdown):
        heads = list(QUESTION_HEAD.finditer(source))
        for n, head in enumerate(heads):
            if n + 1 < len(heads):
                text = source[head.start():heads[n + 1].start()]
            else:
                text = source[head.start():]
                if i + 1 < len(markdown):
                    following = markdown[i + 1]
                    nxt = QUESTION_HEAD.search(following)
                    text += "\n" + (following[:nxt.start()] if nxt else following)
            yield f"{path.name} markdown cell {i + 1} ({head.group(0).strip('*# ')})", text


@pytest.mark.parametrize("path", SEQUENCE, ids=lambda p: p.name)
def test_every_question_has_an_answer_on_demand(path):
    """Each "Try this" and "Check yourself" block has folded answers a learner opens on demand,
    `<details><summary>…</summary>…</details>`: one after each question, or one holding a
    numbered answer for every numbered question."""
    for where, text in _question_blocks(path):
        assert text.count("<details>") == text.count("</details>"), f"{where}: unclosed <details>"
        answers = DETAILS.findall(text)
        assert answers, (
            f"{where}: give the answers a learner can open on demand: "
            "<details><summary>Answers</summary> … </details>"
        )
        asked = len(NUMBERED.findall(DETAILS.sub("", text)))
        answered = max(len(answers), sum(len(NUMBERED.findall(a)) for a in answers))
        assert answered >= asked, f"{where}: {asked} numbered questions, {answered} answers"


# JAX's transforms, each as its code spells it: taught in prose before any code cell uses it.
TRANSFORMS = {name: re.compile(rf"\b{re.escape(name)}\b") for name in (
    "jax.jit", "jax.grad", "jax.vjp", "jax.value_and_grad", "jax.vmap", "lax.fori_loop", "lax.scan")}


def test_jax_transforms_are_taught_before_they_are_used():
    """01 promises that no prior JAX is needed: in course order, a markdown cell names each
    transform (``jax.jit``, ...) before the first code cell that uses it."""
    named, early = set(), []
    for path in SEQUENCE:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            found = {name for name, pattern in TRANSFORMS.items() if pattern.search(cell.source)}
            if cell.cell_type == "markdown":
                named |= found
            elif cell.cell_type == "code":
                early += [f"{path.name} cell {index}: {name}" for name in sorted(found - named)]
    assert not early, f"used in code before the prose teaches it: {early}"


def _markdown_lines(path):
    """Each markdown cell's lines outside code fences, with the cell's index."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced:
                yield index, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_headings_links_and_tables_are_structured(path):
    """What a screen reader navigates by (WCAG 2 1.3.1, 2.4.6, 2.4.4): the first cell opens
    with the notebook's one h1; heading levels never skip (an h2 before any h3, ...); every
    link has a name; every table has a header row."""
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), (
        f"{path.name}: the first cell must open with the notebook's h1 (# Title)")
    level, h1s, lines = 0, 0, list(_markdown_lines(path))
    for number, (index, line) in enumerate(lines):
        heading = re.match(r"(#{1,6}) \S", line)
        if heading:
            new = len(heading.group(1))
            h1s += new == 1
            assert new <= level + 1, (f"{path.name} cell {index}: heading level {new} after "
                                      f"level {level}: {line!r}")
            level = new
        for name in re.findall(r"(?<!!)\[([^\]]*)\]\([^)]*\)", line):
            assert name.strip(), f"{path.name} cell {index}: a link without a name: {line!r}"
        if line.lstrip().startswith("|") and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
            previous = lines[number - 1][1] if number else ""
            assert previous.lstrip().startswith("|") and re.search(r"\w", previous), (
                f"{path.name} cell {index}: a table without a header row")
    assert h1s == 1, f"{path.name}: {h1s} h1 headings; a notebook has exactly one"
