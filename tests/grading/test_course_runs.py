"""Grading a class end to end: ``python -m initcourse grade`` with points, feedback, a roster
and a gradebook on a small class, and the Gradescope autograder built, unzipped into a
Gradescope-like root and run on right, wrong and hostile submissions of each exercise. The
CSV, the feedback, the gradebook and results.json must carry the same scores for one run
seed; results.json must satisfy the schema of Gradescope's format (schemas/)."""

from __future__ import annotations

import csv
import inspect
import json
import os
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from initcourse.grading import feedback, sandbox

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures" / "submissions"
SCHEMA = json.loads((HERE / "schemas" / "gradescope_results.schema.json").read_text())
SEED = 4242
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
HOSTILE_TEXT = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def _notebook(path: Path, *cells: str, student_id: str | None = None) -> Path:
    book = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"),
                               *[new_code_cell(c) for c in cells]])
    if student_id:
        book.metadata["initcourse"] = {"student_id": student_id}
    nbformat.write(book, path)
    return path


def _initializer_source(wrong: bool) -> str:
    import initcourse.solver as solver

    source = inspect.getsource(solver.lecun_normal_init)
    if wrong:  # the untruncated normal: the distribution's mistake
        source = re.sub(r"jax\.random\.truncated_normal\([^)]*\)",
                        "jax.random.normal(key, shape, dtype)", source)
    return ("import math\n\nimport jax\nimport jax.numpy as jnp\n"
            "from initcourse.arguments import initializer_arguments\n\n" + source)


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def _hostile(path: Path) -> Path:
    """Prints markup, raises it from solve, tries to write Gradescope's results and read the
    autograder's source."""
    return _notebook(path, f'''import json, os, pathlib
import jax.numpy as jnp
print({HOSTILE_TEXT!r})
fake = {{"score": 1000, "tests": [{{"name": "forged", "score": 1000, "max_score": 1}}]}}
wrote, read = [], []
roots = [os.environ.get("AUTOGRADER_ROOT", ""), "/autograder"]
roots += [str(p) for p in pathlib.Path("/tmp").glob("**/gs-root")]
for root in roots:
    if not root:
        continue
    for target in ["results/results.json", "results.json"]:
        try:
            os.makedirs(os.path.join(root, "results"), exist_ok=True)
            with open(os.path.join(root, target), "w") as handle:
                json.dump(fake, handle)
            wrote.append(target)
        except OSError as exc:
            print("could not write", target, exc)
    try:
        read.append(open(os.path.join(root, "source", "autograder.json")).read())
    except OSError as exc:
        print("could not read the autograder", exc)''', f'''def solve(seed, x, features):
    raise ValueError({HOSTILE_TEXT!r} + f" wrote={{wrote}} read={{len(read)}}")''')


# --- the local command ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A class of four students (one without a submission) and a stray notebook, graded once
    with points, feedback, a roster and a gradebook."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    subs.mkdir()
    _copy(FIXTURES / "correct.ipynb", subs / "smithjane_1001_501_09_exercise.ipynb")
    _notebook(subs / "smithjane_1001_502_10_exercise.ipynb", _initializer_source(False))
    _copy(FIXTURES / "block_correct.ipynb", subs / "smithjane_1001_503_14_exercise.ipynb")
    _copy(FIXTURES / "float_seed.ipynb", subs / "doejohn_1002_504_09_exercise.ipynb")
    _notebook(subs / "doejohn_1002_505_10_exercise.ipynb", _initializer_source(True))
    _copy(FIXTURES / "block_unscaled.ipynb", subs / "doejohn_1002_506_14_exercise.ipynb")
    _hostile(subs / "leeann_1003_507_09_exercise.ipynb")
    _copy(FIXTURES / "correct.ipynb", subs / "nobody_on_the_roster.ipynb")
    (root / "roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
        '"Smith, Jane",1001,S1001,jsmith,A\n"Doe, John",1002,S1002,jdoe,A\n'
        '"Lee, Ann",1003,S1003,alee,B\n"Park, Min",1004,S1004,mpark,B\n')
    before = {p.name: p.read_bytes() for p in subs.iterdir()}
    done = subprocess.run(
        [sys.executable, "-m", "initcourse", "grade", str(subs), "--out", str(root / "grades.csv"),
         "--seed", str(SEED), "--points", "1=10,2=10,3=20", "--feedback", str(root / "feedback"),
         "--roster", str(root / "roster.csv"), "--gradebook", str(root / "gradebook.csv")],
        capture_output=True, text=True, env=ENV, cwd=root, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert before == {p.name: p.read_bytes() for p in subs.iterdir()}
    rows = list(csv.DictReader((root / "grades.csv").open()))
    book = list(csv.reader((root / "gradebook.csv").open()))
    return {"root": root, "stdout": done.stdout, "rows": rows, "gradebook": book}


def _score(rows, file_part, exercise):
    [row] = [r for r in rows if file_part in r["file"] and r["exercise"] == exercise]
    return float(row["score"]), float(row["max_score"])


def test_scores_follow_the_rule_in_the_report(graded_class):
    rows = graded_class["rows"]
    assert _score(rows, "smithjane_1001_501", "solve") == (10, 10)
    assert _score(rows, "smithjane_1001_502", "lecun_normal_init") == (10, 10)
    assert _score(rows, "smithjane_1001_503", "init_block") == (20, 20)
    for part, exercise in [("doejohn_1002_504", "solve"), ("doejohn_1002_505", "lecun_normal_init"),
                           ("doejohn_1002_506", "init_block")]:
        [row] = [r for r in rows if part in r["file"] and r["exercise"] == exercise]
        assert row["status"] == "failed" and float(row["score"]) < float(row["max_score"]), row
    hostile = [r for r in rows if "leeann" in r["file"]]
    assert [(r["exercise"], r["score"]) for r in hostile] == [("solve", "0")]
    assert all(r["run_seed"] == str(SEED) for r in rows)


def test_the_gradebook_lists_every_student_and_matches_the_report(graded_class):
    header, possible, *students = graded_class["gradebook"]
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                      "Exercise 1 (solve)", "Exercise 2 (lecun_normal_init)",
                      "Exercise 3 (init_block)", "Total"]
    assert possible == ["Points Possible", "", "", "", "", "10", "10", "20", "40"]
    by_id = {row[1]: row for row in students}
    assert list(by_id) == ["1001", "1002", "1003", "1004"]
    rows = graded_class["rows"]
    for student_id, row in by_id.items():
        mine = [r for r in rows if r["student_id"] == student_id]
        if student_id == "1004":
            assert row[5:] == ["", "", "", ""] and not mine
            continue
        for column, exercise in zip((5, 6, 7), ("solve", "lecun_normal_init", "init_block"),
                                    strict=True):
            scores = [float(r["score"]) for r in mine if r["exercise"] == exercise]
            assert float(row[column]) == max(scores, default=0.0), (student_id, exercise)
        assert float(row[8]) == pytest.approx(sum(float(v) for v in row[5:8]))
    assert by_id["1001"][8] == "40"
    out = graded_class["stdout"]
    assert "missing: 1 of 4 students have no submission: Park, Min (1004)" in out
    assert "NOT MATCHED" in out and "nobody_on_the_roster.ipynb" in out
    stray = [r for r in rows if "nobody_on_the_roster" in r["file"]]
    assert stray and stray[0]["student_id"] == "" and stray[0]["score"] == "10"


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_feedback_pages_carry_the_report_s_scores_and_stay_inert(graded_class):
    root, rows = graded_class["root"], graded_class["rows"]
    files = {r["file"] for r in rows}
    assert len(list((root / "feedback").glob("*.html"))) == len(files) == 8
    for file in files:
        name = feedback.file_name(file)
        page = (root / "feedback" / f"{name}.html").read_text()
        markdown = (root / "feedback" / f"{name}.md").read_text()
        total = sum(float(r["score"]) for r in rows if r["file"] == file)
        most = sum(float(r["max_score"]) for r in rows if r["file"] == file)
        said = re.search(r"Total: ([\d.]+) of ([\d.]+) points", markdown)
        assert (float(said[1]), float(said[2])) == pytest.approx((total, most)), file
        assert said[0] in page
        elements = _Elements()
        elements.feed(page)
        assert "script" not in elements.tags and "img" not in elements.tags, file
        assert not [a for a in elements.attributes if a.startswith("on")], file
        assert "<script" not in markdown and "<img" not in markdown
    name = feedback.file_name("submissions/leeann_1003_507_09_exercise.ipynb")
    hostile = (root / "feedback" / f"{name}.html").read_text()
    assert "&lt;script&gt;" in hostile and "Student: Lee, Ann" in hostile


# --- Gradescope -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("autograder")
    out = folder / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "initcourse", "autograder", "--out", str(out),
                           "--points", "1=10,2=10,3=20"],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def _gradescope(zip_path: Path, root: Path, notebooks: dict, name="Jane Smith"):
    """A Gradescope-like root (source/ unzipped, submission/, results/, the metadata), and
    run_autograder run there; returns results.json and the run's output."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for target, make in notebooks.items():
        make(root / "submission" / target)
    (root / "submission_metadata.json").write_text(json.dumps(
        {"users": [{"name": name, "email": "student@example.edu", "id": "1"}],
         "assignment": {"title": "initcourse"}, "created_at": "2026-12-04T00:00:00"}))
    env = {**ENV, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
           "AUTOGRADER_SEED": str(SEED)}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results, done.stdout + done.stderr


def _tests(results):
    return {t["number"]: t for t in results["tests"]}


def test_right_submissions_of_each_exercise_get_every_point(autograder, tmp_path):
    results, _ = _gradescope(autograder, tmp_path / "gs-root", {
        "09_exercise.ipynb": lambda p: _copy(FIXTURES / "correct.ipynb", p),
        "10_exercise_initializer.ipynb": lambda p: _notebook(p, _initializer_source(False)),
        "14_exercise_block.ipynb": lambda p: _copy(FIXTURES / "block_correct.ipynb", p)})
    tests = _tests(results)
    assert [(n, t["score"], t["max_score"], t["status"]) for n, t in tests.items()] == [
        ("1", 10.0, 10.0, "passed"), ("2", 10.0, 10.0, "passed"), ("3", 20.0, 20.0, "passed")]
    assert results["score"] == 40.0 and results["execution_time"] >= 1
    assert "Feedback for Jane Smith." in results["output"]
    assert f"seed={SEED}" in tests["1"]["output"]


def test_wrong_submissions_score_what_the_local_command_scores(autograder, tmp_path, graded_class):
    results, _ = _gradescope(autograder, tmp_path / "gs-root", {
        "09.ipynb": lambda p: _copy(FIXTURES / "float_seed.ipynb", p),
        "10.ipynb": lambda p: _notebook(p, _initializer_source(True)),
        "14.ipynb": lambda p: _copy(FIXTURES / "block_unscaled.ipynb", p)})
    tests = _tests(results)
    rows = graded_class["rows"]
    # The same notebooks, the same run seed: the same scores as the CSV (and so as the
    # gradebook and the feedback, which the tests above hold to the CSV).
    for number, part, exercise in [("1", "doejohn_1002_504", "solve"),
                                   ("2", "doejohn_1002_505", "lecun_normal_init"),
                                   ("3", "doejohn_1002_506", "init_block")]:
        score, most = _score(rows, part, exercise)
        assert (tests[number]["score"], tests[number]["max_score"]) == (score, most), number
        assert tests[number]["status"] == "failed" and "### Mistakes" in tests[number]["output"]
        assert "Fix:" in tests[number]["output"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests.values()))


def test_a_hostile_submission_can_neither_write_the_results_nor_read_the_autograder(
        autograder, tmp_path):
    results, output = _gradescope(autograder, tmp_path / "gs-root", {
        "09.ipynb": _hostile}, name=HOSTILE_TEXT)
    tests = _tests(results)
    assert [t["score"] for t in tests.values()] == [0.0, 0.0, 0.0]
    assert results["score"] == 0.0 and "forged" not in json.dumps(results)
    assert "<script" not in json.dumps(results) and "&lt;script&gt;" in results["output"]
    if not sandbox.sandbox_problem():  # isolated: the attempts themselves failed
        assert "wrote=\\[\\] read=0" in tests["1"]["output"]
    # The hidden case's inputs stay hidden (its call is named "a hidden case").
    assert "jnp.array" not in tests["1"]["output"] and "a hidden case" in tests["1"]["output"]
    assert "No notebook of your submission defines `init_block`" in tests["3"]["output"]


def test_a_submission_without_notebooks_is_told_so(autograder, tmp_path):
    results, _ = _gradescope(autograder, tmp_path / "gs-root", {
        "answer.py": lambda p: p.write_text("def solve(): pass\n")})
    assert results["score"] == 0.0 and "has no notebook (.ipynb)" in results["output"]
