"""The instructors' grading command: its arguments, its report, and runs without a sandbox
or stopped by Ctrl-C. The whole corpus of submissions is graded in test_grading_hostile.py."""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from initcourse.__main__ import main
from initcourse.grading import cli, grade, report

SUBMISSIONS = Path(__file__).parents[1] / "fixtures" / "submissions"
HOSTILE = Path(__file__).parents[1] / "fixtures" / "hostile"
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def test_an_unreadable_notebook_is_reported_without_a_process():
    rows = grade.grade_notebook(SUBMISSIONS / "broken_json.ipynb", "broken_json.ipynb",
                                grade.Settings())
    assert [(r.exercise, r.status, r.passed) for r in rows] == [("-", "invalid-notebook", False)]
    assert "not valid JSON" in rows[0].detail and "line 37, column 5" in rows[0].detail


@pytest.mark.parametrize("name, detail", [("invalid_utf8.ipynb", "not UTF-8 text (byte ")])
def test_files_that_are_not_notebooks_are_named_so(name, detail):
    with pytest.raises(grade.InvalidNotebook, match=detail.replace("(", r"\(")):
        grade.code_cells(HOSTILE / name)


def test_nbformat_3_notebooks_are_read(tmp_path):
    cells = grade.code_cells(HOSTILE / "nbformat3.ipynb")
    assert len(cells) == 3 and "def solve" in cells[2]


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
    notes = tmp_path / "notes.txt"
    notes.write_text("not a notebook")
    assert main(["grade", str(notes)]) == 2
    assert f"SUBMISSION '{notes}' is not a notebook" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--timeout", "0", "--timeout must be finite, > 0 and <= 86400; received '0'"),
    ("--timeout", "inf", "--timeout must be finite, > 0 and <= 86400; received 'inf'"),
    ("--timeout", "nan", "received 'nan'"),
    ("--call-timeout", "inf", "--call-timeout must be finite, > 0 and <= 600; received 'inf'"),
    ("--call-timeout", "1e300", "received '1e300'"),
    ("--call-timeout", "soon", "--call-timeout must be a number; received 'soon'"),
    ("--jobs", "0", "--jobs must be finite, > 0 and <= 256; received '0'"),
    ("--jobs", "1.5", "--jobs must be a whole number; received '1.5'"),
    ("--seed", "-3", "--seed must be finite, > -1"),
    ("--memory", "lots", "--memory must be a size from 1M to 1024G (like 512M or 2G); received"),
    ("--memory", "1e400G", "received '1e400G'"),
    ("--memory", "", "--memory must be a size from 1M to 1024G (like 512M or 2G); received ''"),
    ("--memory", " ", "received ' '"),
    ("--memory", "ib", "received 'ib'"),
    ("--max-output", "", "--max-output must be a size"),
    ("--max-output", "10", "--max-output must be a size"),
    ("--processes", "3", "--processes must be finite, > 15"),
])
def test_options_are_finite_and_bounded(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["grade", str(SUBMISSIONS), option, value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_sizes_take_units():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)

    def parse(text):
        return parser.parse_args([str(SUBMISSIONS), "--memory", text]).memory

    assert (parse("2G"), parse("512M"), parse("512MiB"), parse("1.5g")) == (
        2 * 2**30, 512 * 2**20, 512 * 2**20, 3 * 2**29)


def test_an_existing_report_is_never_replaced_unless_asked(tmp_path, capsys):
    out = tmp_path / "grades.csv"
    out.write_text("the instructor's own notes\n")
    assert main(["grade", str(SUBMISSIONS / "broken_json.ipynb"), "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_text() == "the instructor's own notes\n"
    assert main(["grade", str(SUBMISSIONS / "broken_json.ipynb"), "--out", str(out),
                 "--overwrite", "--seed", "5"]) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == list(report.COLUMNS)
    assert (rows[0]["status"], rows[0]["run_seed"]) == ("invalid-notebook", "5")


def test_folders_are_searched_recursively_without_checkpoints(tmp_path):
    (tmp_path / "group" / ".ipynb_checkpoints").mkdir(parents=True)
    for path in ("a.ipynb", "group/b.ipynb", "group/.ipynb_checkpoints/b-checkpoint.ipynb",
                 "notes.txt"):
        (tmp_path / path).write_text("{}")
    found = cli.find_submissions([tmp_path, tmp_path / "a.ipynb"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.ipynb", "group/b.ipynb"]


def test_text_from_submissions_is_cleaned_for_the_report_and_the_terminal():
    text = "\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 tab\there\nnew\rline\x00"
    assert report.clean(text) == "red link tab here new?line?"
    grade_ = report.Grade("=cmd|' /C calc'!A0", "solve", "failed", False, ("raises",), 1.0,
                          "-2+3 \x1b[2J")
    row = grade_.row(run_seed=1, isolated=False)
    assert row["file"] == "'=cmd|' /C calc'!A0" and row["detail"] == "'-2+3"
    assert row["isolated"] == "NO"
    assert len(report.clean("x" * 1000)) == 400


def test_rows_are_kept_as_they_come_and_sorted_at_the_end(tmp_path):
    writer = report.ReportWriter(tmp_path / "r.csv", run_seed=3, isolated=True)
    rows = [report.Grade(f, e, "passed", True, (), 1.0, "")
            for f, e in [("b", "lecun_normal_init"), ("b", "solve"), ("a", "-")]]
    writer.add(rows[:1])
    assert "lecun_normal_init" in (tmp_path / "r.csv").read_text()  # on disk before the end
    writer.add(rows[1:])
    writer.finish()
    got = [(r["file"], r["exercise"]) for r in csv.DictReader((tmp_path / "r.csv").open())]
    assert got == [("a", "-"), ("b", "solve"), ("b", "lecun_normal_init")]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.mark.slow
def test_without_a_sandbox_grading_works_and_says_so_loudly(tmp_path):
    names = ["correct.ipynb", "calls_answer_key.ipynb"]
    done = subprocess.run(
        [sys.executable, "-m", "initcourse", "grade", *[str(SUBMISSIONS / n) for n in names],
         "--out", "r.csv", "--no-sandbox", "--jobs", "2", "--seed", "11"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING: submissions are NOT isolated (--no-sandbox was given)" in done.stderr
    assert "WARNING: these submissions were NOT isolated" in done.stdout
    rows = {Path(r["file"]).name: r for r in csv.DictReader((tmp_path / "r.csv").open())}
    assert rows["correct.ipynb"]["status"] == "passed"
    assert rows["correct.ipynb"]["isolated"] == "NO"
    # The answer key is replaced by the stub without a sandbox too (by an import hook).
    assert rows["calls_answer_key.ipynb"]["status"] == "failed"
    assert "not available while grading" in rows["calls_answer_key.ipynb"]["detail"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


@pytest.mark.slow
def test_ctrl_c_keeps_the_rows_written_and_leaves_no_process(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a_quick.ipynb").write_bytes((SUBMISSIONS / "broken_json.ipynb").read_bytes())
    for n in range(3):
        (folder / f"loop_{n}.ipynb").write_bytes((SUBMISSIONS / "infinite_loop.ipynb")
                                                 .read_bytes())
    process = subprocess.Popen(
        [sys.executable, "-m", "initcourse", "grade", str(folder), "--out", "r.csv",
         "--jobs", "2", "--timeout", "600", "--no-sandbox"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report_path = tmp_path / "r.csv"
    try:
        deadline, running = time.monotonic() + 300, []
        while time.monotonic() < deadline and not running:
            time.sleep(1)
            if report_path.exists() and "a_quick" in report_path.read_text():
                running = [pid for pid, args in _children(process.pid)
                           if "grading/child.py" in args]
        assert running, "no submission was running"
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 130, err[-2000:]
        assert "interrupted: 1 of 4 submissions graded" in out
        rows = list(csv.DictReader(report_path.open()))
        assert [Path(r["file"]).name for r in rows] == ["a_quick.ipynb"]
        time.sleep(1)
        assert [pid for pid in running if _alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[tuple[int, str]]:
    done = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True,
                          text=True)
    return [(int(line.split(None, 1)[0]), line.split(None, 1)[1])
            for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_a_notebook_with_both_exercises_gets_a_row_for_each(tmp_path):
    """Exercise 2's row needs ``initcourse.check_initializer``; without it grading itself
    fails for that row (status grading-error, exit status 1), and exercise 1 is still graded."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    import initcourse

    source = grade.code_cells(SUBMISSIONS / "correct.ipynb")
    initializer = '''def lecun_normal_init(key, shape, dtype=jnp.float32):
    fan_in = 1
    for n in shape[:-1]:
        fan_in *= n
    std = jnp.sqrt(jnp.array(1 / fan_in, dtype)) / jnp.array(.87962566103423978, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std'''
    book = new_notebook(cells=[new_code_cell(c) for c in [*source, initializer]])
    nbformat.write(book, tmp_path / "both.ipynb")
    # Right values, but from Flax's own initializer: the check says calls-flax in-process,
    # and through the grader too (the submission's process says which code the call ran).
    delegates = ("def lecun_normal_init(key, shape, dtype=jnp.float32):\n"
                 "    return nn.initializers.lecun_normal()(key, shape, dtype)")
    book = new_notebook(cells=[new_code_cell(c) for c in [*source, delegates]])
    nbformat.write(book, tmp_path / "delegates.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "initcourse", "grade", "both.ipynb", "delegates.ipynb",
         "--out", "r.csv", "--seed", "3"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=900)
    rows = {(r["file"], r["exercise"]): (r["status"], r["mistakes"])
            for r in csv.DictReader((tmp_path / "r.csv").open())}
    if hasattr(initcourse, "check_initializer"):
        assert done.returncode == 0, done.stderr[-2000:]
        assert rows == {("both.ipynb", "solve"): ("passed", ""),
                        ("both.ipynb", "lecun_normal_init"): ("passed", ""),
                        ("delegates.ipynb", "solve"): ("passed", ""),
                        ("delegates.ipynb", "lecun_normal_init"): ("failed", "calls-flax")}
        import jax.numpy as jnp
        from flax import linen as nn

        in_process = initcourse.check_initializer(
            lambda key, shape, dtype=jnp.float32: nn.initializers.lecun_normal()(key, shape,
                                                                                dtype))
        assert list(in_process.mistakes) == ["calls-flax"]
    else:
        assert done.returncode == 1
        assert rows[("both.ipynb", "solve")] == ("passed", "")
        assert rows[("both.ipynb", "lecun_normal_init")][0] == "grading-error"
        assert "grading itself failed for 2 row(s)" in done.stderr


def test_where_the_sandbox_cannot_start_the_report_and_terminal_say_so(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(cli.sandbox, "sandbox_problem", lambda: "no user namespaces here")
    out = tmp_path / "r.csv"
    assert main(["grade", str(SUBMISSIONS / "broken_json.ipynb"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert ("WARNING: submissions are NOT isolated (no user namespaces here)"
            in captured.err)
    assert "WARNING: these submissions were NOT isolated" in captured.out
    assert [r["isolated"] for r in csv.DictReader(out.open())] == ["NO"]
