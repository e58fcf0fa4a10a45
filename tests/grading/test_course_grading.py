"""Grading a course, without running a submission: the points and their rule, the roster and
how submissions are matched to it, the gradebook's layout, the feedback pages (escaped and
inert), and the options' errors. Runs of real submissions: test_course_runs.py."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from initcourse.__main__ import main
from initcourse.grading import cli, feedback, points, report, roster

SUBMISSIONS = Path(__file__).parents[1] / "fixtures" / "submissions"
HOSTILE_TEXT = '<script>alert("x")</script><img src=x onerror="alert(1)"> [link](javascript:1)'


def _grade(exercise="solve", status="failed", passed=False, right=3, cases=7, detail="",
           file="sub/a.ipynb", blocks=()):
    return report.Grade(file, exercise, status, passed, ("raises",) if not passed else (), 1.0,
                        detail, right=right, cases=cases, blocks=blocks)


# --- points ---------------------------------------------------------------------------------

def test_points_default_to_ten_each_and_take_what_is_given():
    assert points.parse_points(None) == {1: 10.0, 2: 10.0, 3: 10.0}
    assert points.parse_points("1=5, 3=20") == {1: 5.0, 2: 10.0, 3: 20.0}
    assert points.parse_points("2=2.5", exercises=(2,)) == {2: 2.5}
    assert points.parse_exercises("3,1") == (1, 3)


@pytest.mark.parametrize("text, message", [
    ("1=ten", "exercise 1's points must be a number from 0 to 1000; received 'ten'"),
    ("1=-1", "received '-1'"),
    ("1=inf", "received 'inf'"),
    ("4=10", "'4=10' must be EXERCISE=POINTS with EXERCISE 1, 2 or 3"),
    ("1:10", "'1:10' must be EXERCISE=POINTS"),
    ("1=10,1=5", "--points names exercise 1 twice; received '1=10,1=5'"),
    ("", "--points must look like 1=10,2=10,3=10; received ''"),
])
def test_bad_points_are_named(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        points.parse_points(text)


def test_points_of_an_exercise_left_out_are_refused():
    with pytest.raises(ValueError, match="--points names exercise 2, which --exercises leaves"):
        points.parse_points("2=5", exercises=(1, 3))
    with pytest.raises(ValueError, match="--exercises must list exercise numbers"):
        points.parse_exercises("1,4")


def test_the_partial_credit_rule():
    assert points.score(_grade(passed=True, status="passed", right=7), 10) == 10
    assert points.score(_grade(right=3, cases=7), 10) == 4.29
    assert points.score(_grade(right=0, cases=7), 10) == 0
    # Every case right but the check failed (how, not what): never full points.
    assert points.score(_grade(right=7, cases=7), 10) == pytest.approx(8.57)
    # The check never ran: nothing verified, nothing given.
    assert points.score(_grade(status="time-limit", right=0, cases=0), 10) == 0
    assert points.score(_grade(exercise="-", status="invalid-notebook", cases=0), 10) == 0
    # A passed exercise after a failing cell keeps its points (the function was checked).
    assert points.score(_grade(status="execution-error", passed=True, right=7), 10) == 10
    assert points.score(_grade(passed=True, status="passed"), 0) == 0


def test_the_report_carries_score_and_max_score(tmp_path):
    writer = report.ReportWriter(tmp_path / "r.csv", run_seed=3, isolated=True,
                                 max_scores={"solve": 20.0, "init_block": 5.0},
                                 students={"sub/a.ipynb": "1001"})
    writer.add([_grade(right=3, cases=7), _grade(exercise="init_block", status="passed",
                                                 passed=True, right=5, cases=5),
                _grade(exercise="lecun_normal_init", file="sub/b.ipynb")])
    writer.finish()
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    got = [(r["file"], r["student_id"], r["exercise"], r["score"], r["max_score"]) for r in rows]
    assert got == [("sub/a.ipynb", "1001", "solve", "8.57", "20"),
                   ("sub/a.ipynb", "1001", "init_block", "5", "5"),
                   ("sub/b.ipynb", "", "lecun_normal_init", "0", "0")]


# --- the roster and the matching ------------------------------------------------------------

CANVAS_EXPORT = '''Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (123)
    Points Possible,,,,,10
"Smith, Jane",1234,S1,jsmith,A,
"Doe, John",12345,S2,jdoe,B,
"Student, Test",99,,,A,
'''


def test_canvas_s_own_export_is_a_roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(CANVAS_EXPORT)
    students = roster.read_roster(path)
    assert [(s.id, s.name, s.sis_login_id, s.section) for s in students] == [
        ("1234", "Smith, Jane", "jsmith", "A"), ("12345", "Doe, John", "jdoe", "B"),
        ("99", "Student, Test", "", "A")]


def test_the_simple_layout_and_its_errors(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id,name,login,section\nu1,Ann Lee,alee,1\n")
    assert roster.read_roster(path)[0] == roster.Student("u1", "Ann Lee", "", "alee", "1")
    path.write_text("name,section\nAnn,1\n")
    with pytest.raises(roster.RosterError, match="has no id column; its header is"):
        roster.read_roster(path)
    path.write_text("id,name\nu1,Ann\nu1,Bob\n")
    with pytest.raises(roster.RosterError, match="id 'u1' is on rows 2 and 3"):
        roster.read_roster(path)
    path.write_text("id,name\n,Ann\n")
    with pytest.raises(roster.RosterError, match="row 2: the id is empty"):
        roster.read_roster(path)
    with pytest.raises(roster.RosterError, match="no such file"):
        roster.read_roster(tmp_path / "absent.csv")


def _tagged(path: Path, student_id) -> Path:
    book = new_notebook(cells=[new_code_cell("x = 1")])
    if student_id is not None:
        book.metadata["initcourse"] = {"student_id": student_id}
    nbformat.write(book, path)
    return path


def test_submissions_are_matched_on_whole_words_metadata_first(tmp_path):
    students = [roster.Student("1234", "Smith, Jane", sis_login_id="jsmith"),
                roster.Student("12345", "Doe, John", sis_login_id="jdoe")]
    files = {
        "smithjane_1234_777_09.ipynb": None,     # Canvas's download name: whole word 1234
        "doejohn_12345_778_09.ipynb": None,      # 12345, and not 1234 inside it
        "jdoe-exercise3.ipynb": None,            # the login
        "mine.ipynb": "jsmith",                  # the notebook says whose it is
        "1234_12345_pair.ipynb": None,           # names two students
        "someone_else.ipynb": None,              # names nobody
    }
    subs = [(name, _tagged(tmp_path / name, tag)) for name, tag in files.items()]
    got = roster.match(subs, students, roster.parse_match(None))
    assert got.owner == {"smithjane_1234_777_09.ipynb": "1234",
                         "doejohn_12345_778_09.ipynb": "12345",
                         "jdoe-exercise3.ipynb": "12345", "mine.ipynb": "1234"}
    assert got.ambiguous == {"1234_12345_pair.ipynb": ["1234", "12345"]}
    assert got.unmatched == ["someone_else.ipynb"]
    # A pattern pins where the id is: Canvas's name_<id>_<submission>_<file>.
    canvas = roster.match(subs, students, roster.parse_match("*_{id}_*"))
    assert canvas.owner == {"smithjane_1234_777_09.ipynb": "1234",
                            "doejohn_12345_778_09.ipynb": "12345",
                            "1234_12345_pair.ipynb": "12345"}


@pytest.mark.parametrize("rules, message", [
    ("*{student_number}*", "must be 'metadata' or a pattern with a {column} of the roster"),
    ("metadata;;", "must be rules separated by ';'"),
    ("*.ipynb", "must be 'metadata' or a pattern with a {column}"),
])
def test_bad_match_rules_are_named(rules, message):
    with pytest.raises(roster.RosterError, match=message.replace("{", r"\{").replace("}", r"\}")):
        roster.parse_match(rules)


def test_the_gradebook_is_canvas_s_layout_with_the_best_row_and_the_missing():
    students = [roster.Student("1", "Ann", "S1", "ann", "A"),
                roster.Student("2", "Bob", "S2", "bob", "B"),
                roster.Student("3", "Cy", "S3", "cy", "A")]
    matching = roster.Matching(owner={"a1.ipynb": "1", "a2.ipynb": "1", "b.ipynb": "2"})
    scores = report.Scores(run_seed=1, isolated=True,
                           max_scores={"solve": 10.0, "init_block": 20.0})
    grades = [_grade(file="a1.ipynb", right=3, cases=7),
              _grade(file="a2.ipynb", status="passed", passed=True, right=7),
              _grade(file="a2.ipynb", exercise="init_block", right=2, cases=5),
              _grade(file="b.ipynb", exercise="-", status="invalid-notebook", cases=0)]
    header, possible, rows, missing = roster.gradebook_rows(students, grades, scores, (1, 3),
                                                            matching)
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                      "Exercise 1 (solve)", "Exercise 3 (init_block)", "Total"]
    assert possible == ["Points Possible", "", "", "", "", "10", "20", "30"]
    assert rows == [["Ann", "1", "S1", "ann", "A", "10", "8", "18"],
                    ["Bob", "2", "S2", "bob", "B", "0", "0", "0"],
                    ["Cy", "3", "S3", "cy", "A", "", "", ""]]
    assert [s.id for s in missing] == ["3"]


# --- feedback ---------------------------------------------------------------------------------

class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_feedback_escapes_everything_from_the_submission(tmp_path):
    scores = report.Scores(run_seed=42, isolated=True)
    blocks = (("", "3 of 7 hidden cases match the reference.", "", ""),
              ("raises", "`solve` raises an exception.", HOSTILE_TEXT, "Look at the message."))
    grades = [_grade(file=f"sub/{HOSTILE_TEXT}.ipynb", detail=HOSTILE_TEXT, blocks=blocks),
              _grade(file=f"sub/{HOSTILE_TEXT}.ipynb", exercise="init_block",
                     status="execution-error", detail=f"code cell 2 raised {HOSTILE_TEXT}",
                     right=0, cases=0)]
    html_path, md_path = feedback.write(tmp_path, grades, scores, student_name=HOSTILE_TEXT)
    page = html_path.read_text()
    elements = _Elements()
    elements.feed(page)
    assert "script" not in elements.tags and "img" not in elements.tags
    assert not [a for a in elements.attributes if a.startswith("on")]
    assert "default-src 'none'" in page  # and scripts are forbidden anyway
    assert page.count("&lt;script&gt;") >= 3
    markdown = md_path.read_text()
    assert "<script" not in markdown and "<img" not in markdown
    assert "](javascript" not in markdown and "\\[link\\]" in markdown
    # What it says: points, cases, the mistake and its fix, the hint, how to see it again.
    assert "Total: 4.29 of 20 points." in markdown
    assert "3 of 7 hidden cases right." in markdown and "Fix: Look at the message." in markdown
    assert "### Hint" in markdown and "initcourse.check(solve, seed=42)" in markdown
    # Never the answer key.
    assert "def solve" not in page + markdown and "class LecunDense" not in page + markdown
    assert html_path.name == md_path.name[:-3] + ".html" and "<" not in html_path.name


# --- the options ----------------------------------------------------------------------------

def test_course_options_are_checked_before_grading(tmp_path, capsys):
    one = str(SUBMISSIONS / "broken_json.ipynb")
    out = str(tmp_path / "r.csv")
    cases = [
        (["--gradebook", str(tmp_path / "g.csv")], "--gradebook needs --roster"),
        (["--points", "1=x"], "exercise 1's points must be a number"),
        (["--roster", str(tmp_path / "none.csv")], "no such file"),
        (["--match", "*{id}*"], "--match needs --roster"),
        (["--feedback", one], "--feedback must name a folder"),
        (["--feedback", str(SUBMISSIONS)], "holds submissions"),
    ]
    for extra, message in cases:
        assert main(["grade", one, "--out", out, *extra]) == 2, extra
        assert message in capsys.readouterr().err
    (tmp_path / "roster.csv").write_text("id,name\n1,Ann\n")
    (tmp_path / "g.csv").write_text("kept")
    assert main(["grade", one, "--out", out, "--roster", str(tmp_path / "roster.csv"),
                 "--gradebook", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "--gradebook" in err and "exists already" in err
    assert (tmp_path / "g.csv").read_text() == "kept"
    folder = tmp_path / "fb"
    folder.mkdir()
    name = feedback.file_name(cli._display_name(Path(one)))
    (folder / f"{name}.html").write_text("kept")
    assert main(["grade", one, "--out", out, "--feedback", str(folder)]) == 2
    assert "already holds" in capsys.readouterr().err
    assert (folder / f"{name}.html").read_text() == "kept"
    assert not Path(out).exists()


def test_the_autograder_command_refuses_bad_arguments(tmp_path, capsys):
    assert main(["autograder", "--out", str(tmp_path / "a.tar")]) == 2
    assert "--out must name a .zip file" in capsys.readouterr().err
    assert main(["autograder", "--out", str(tmp_path / "a.zip"), "--points", "5=1"]) == 2
    assert "EXERCISE 1, 2 or 3" in capsys.readouterr().err
    (tmp_path / "a.zip").write_text("kept")
    assert main(["autograder", "--out", str(tmp_path / "a.zip")]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (tmp_path / "a.zip").read_text() == "kept"


def test_the_autograder_zip_holds_gradescope_s_files(tmp_path):
    import stat
    import subprocess
    import zipfile

    out = tmp_path / "autograder.zip"
    assert main(["autograder", "--out", str(out), "--exercises", "1,3", "--points", "3=20"]) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        config = json.loads(archive.read("autograder.json"))
        archive.extractall(tmp_path / "source")
    assert {"setup.sh", "run_autograder", "course/pyproject.toml", "course/constraints.txt",
            "course/initcourse/__init__.py", "course/initcourse/grading/gradescope.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("course/tests", "course/notebooks"))]
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert config == {"exercises": [1, 3], "points": {"1": 10.0, "3": 20.0}}
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / "source" / script)], check=True)
    setup = (tmp_path / "source" / "setup.sh").read_text()
    assert '-c "$SOURCE/course/constraints.txt" "$SOURCE/course"' in setup


def test_a_roster_that_is_not_a_csv_file_or_is_ragged_is_refused(tmp_path):
    """A device, a folder, a row with more cells than the header (an unquoted comma) or
    without a name: each named with its row, never read endlessly or half-filled."""
    with pytest.raises(roster.RosterError, match="is not a regular file"):
        roster.read_roster("/dev/zero")
    with pytest.raises(roster.RosterError, match="is not a regular file"):
        roster.read_roster(tmp_path)
    path = tmp_path / "roster.csv"
    path.write_text("id,name\n1,Ann,extra,more\n")
    with pytest.raises(roster.RosterError, match="row 2 has 4 cells, its header 2"):
        roster.read_roster(path)
    path.write_text("id,name\n1,Ann\n2\n")
    with pytest.raises(roster.RosterError, match="row 3: the name is empty"):
        roster.read_roster(path)


@pytest.mark.parametrize("text", ["²=5", "١=5", "1²=5"])
def test_points_take_ascii_exercise_numbers_only(text):
    with pytest.raises(ValueError, match="--points: .* must be EXERCISE=POINTS"):
        points.parse_points(text, (1, 2, 3))


@pytest.mark.parametrize("text", ["²", "١", "1,²"])
def test_exercises_take_ascii_numbers_only(text):
    with pytest.raises(ValueError, match="--exercises must list exercise numbers"):
        points.parse_exercises(text)
