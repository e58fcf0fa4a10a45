"""The instructors' grading command on a folder of sample submissions.

tests/fixtures/submissions/ holds one notebook per situation: a correct solution, a wrong
one, one whose later cell raises, one that defines no `solve`, one that returns the answer
key's output, one that loops forever, one whose `solve` ends the Python process and one that is
not JSON at all.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from initcourse import grade_cli
from initcourse.__main__ import main

SUBMISSIONS = Path(__file__).parent / "fixtures" / "submissions"

# file -> (status, passed, mistakes, a piece of the detail)
EXPECTED = {
    "broken_json.ipynb": ("invalid-notebook", "no", "", "not a notebook"),
    "calls_answer_key.ipynb": ("failed", "no", "calls-reference", "answer key"),
    "cell_error.ipynb": ("execution-error", "yes", "", "code cell 4 raised NameError"),
    "correct.ipynb": ("passed", "yes", "", ""),
    "exits_python.ipynb": ("execution-error", "no", "", "kernel died while running the check"),
    "float_seed.ipynb": ("failed", "no", "float-seed", "seed=42.0 fails"),
    "infinite_loop.ipynb": ("timeout", "no", "", "did not finish within 12 s"),
    "no_solve.ipynb": ("no-solve", "no", "", "no function named solve"),
}


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Run the command once on the whole folder: (before, after, csv rows, stdout)."""
    workdir = tmp_path_factory.mktemp("grading")
    before = _fingerprint(SUBMISSIONS)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "initcourse", "grade", str(SUBMISSIONS), "--out", "report.csv",
         "--timeout", "12"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with open(workdir / "report.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return before, _fingerprint(SUBMISSIONS), rows, done.stdout


@pytest.mark.slow
def test_every_submission_gets_its_expected_row(graded):
    _, _, rows, _ = graded
    assert [Path(r["file"]).name for r in rows] == sorted(EXPECTED)
    assert list(rows[0]) == list(grade_cli.COLUMNS)
    for row in rows:
        status, passed, mistakes, detail = EXPECTED[Path(row["file"]).name]
        assert (row["status"], row["passed"], row["mistakes"]) == (status, passed, mistakes), row
        assert detail in row["detail"], row
        assert float(row["runtime_s"]) >= 0


@pytest.mark.slow
def test_submissions_are_byte_identical_afterwards(graded):
    before, after, _, _ = graded
    assert after == before


@pytest.mark.slow
def test_summary_table_lists_file_status_passed_mistakes_runtime(graded):
    _, _, _, stdout = graded
    header, *lines = stdout.strip().splitlines()
    assert header.split() == ["file", "status", "passed", "runtime", "mistakes"]
    for name, (status, passed, mistakes, _) in EXPECTED.items():
        line = next(line for line in lines if name in line)
        assert status in line and passed in line and " s " in line + " "
        assert (mistakes or "-") in line
    assert "8 submissions, 2 passed. Report: report.csv" in stdout


def test_an_unreadable_notebook_is_reported_without_a_kernel():
    grade = grade_cli.grade_notebook(SUBMISSIONS / "broken_json.ipynb", timeout=5,
                                     call_timeout=1)
    assert grade.status == "invalid-notebook" and not grade.passed
    assert "not valid JSON" in grade.detail and "line 37, column 5" in grade.detail


def test_refuses_to_write_the_report_over_a_submission(tmp_path, capsys):
    target = tmp_path / "correct.ipynb"
    target.write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    before = target.read_bytes()
    assert main(["grade", str(tmp_path), "--out", str(target)]) == 2
    assert "--out must name a .csv file" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_bad_arguments_are_named(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing")]) == 2
    assert f"SUBMISSION '{tmp_path / 'missing'}': no such file or folder" in capsys.readouterr().err
    # Checked before any grading, not after.
    assert main(["grade", str(SUBMISSIONS), "--out", str(tmp_path / "no" / "r.csv")]) == 2
    assert "--out must be a file in an existing folder" in capsys.readouterr().err
    assert main(["grade", str(tmp_path)]) == 2
    assert "no notebooks" in capsys.readouterr().err
    assert main(["grade", str(SUBMISSIONS), "--timeout", "0"]) == 2
    assert "--timeout must be > 0; received 0.0" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("not a notebook")
    assert main(["grade", str(notes)]) == 2
    assert f"SUBMISSION '{notes}' is not a notebook" in capsys.readouterr().err


def test_an_existing_report_is_never_replaced_unless_asked(tmp_path, capsys):
    report = tmp_path / "grades.csv"
    report.write_text("the instructor's own notes\n")
    assert main(["grade", str(SUBMISSIONS / "broken_json.ipynb"), "--out", str(report)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert report.read_text() == "the instructor's own notes\n"
    assert main(["grade", str(SUBMISSIONS / "broken_json.ipynb"), "--out", str(report),
                 "--overwrite"]) == 0
    assert report.read_text().startswith("file,status,passed")


def test_the_kernels_outputs_are_dropped_as_they_arrive():
    """A cell that prints in a loop until its time limit must not fill this process's memory."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_notebook

    client = grade_cli._client_keeping_no_outputs(NotebookClient)(new_notebook())
    outs = []
    msg = {"msg_type": "stream", "parent_header": {"msg_id": "1"},
           "header": {"msg_type": "stream"},
           "content": {"name": "stdout", "text": "x" * 1000}}
    assert client.output(outs, msg, None, 0) is None
    assert outs == []
    plain = NotebookClient(new_notebook())
    plain.reset_execution_trackers()
    plain.clear_before_next_output = False  # set by execute_cell, which is not run here
    assert plain.output(outs, msg, None, 0) is not None and len(outs) == 1


def test_folders_are_searched_recursively_without_checkpoints(tmp_path):
    (tmp_path / "group" / ".ipynb_checkpoints").mkdir(parents=True)
    for path in ("a.ipynb", "group/b.ipynb", "group/.ipynb_checkpoints/b-checkpoint.ipynb",
                 "notes.txt"):
        (tmp_path / path).write_text("{}")
    found = grade_cli.find_submissions([tmp_path, tmp_path / "a.ipynb"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.ipynb", "group/b.ipynb"]
