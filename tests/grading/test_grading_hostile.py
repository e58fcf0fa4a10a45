"""Grading a class that includes hostile submissions, in one run of the command.

The corpus: tests/fixtures/submissions (ordinary submissions, right and wrong),
tests/fixtures/hostile (forgeries, crashes, limits, odd files) and notebooks generated here
(those that must name this run's folders, plus a 5,000-cell and a 50 MB notebook). Each is
graded with its expected status; the expected mistake codes of the forgeries are what
:func:`initcourse.check` says, in this process, of the same functions without the forgery.
Every submission is byte-identical afterwards and nothing is written outside the temporary
folders. Several notebooks would be correct only if an attack succeeded (they then return
garbage or raise with what they found), so a pass proves the attack failed.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from initcourse.grading import sandbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(sandbox.sandbox_problem()),
                       reason=f"no sandbox here: {sandbox.sandbox_problem()}"),
]

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = 1234
SECRET = "initcourse-test-secret-7f3a"
IMPORTS = "import jax\nimport jax.numpy as jnp\nfrom flax import linen as nn\n\nimport initcourse"
SOLVE = '''class MyDense(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features, kernel_init=nn.initializers.lecun_normal(),
                        bias_init=nn.initializers.zeros)(x)


def solve(seed, x, features):
    if found:
        raise RuntimeError(f"the attack worked: {found}")
    model = MyDense(int(features))
    params = model.init(jax.random.PRNGKey(int(seed)), x)
    return model.apply(params, x)'''

# name -> (exercise, status, passed, a piece of the detail); mistakes are checked separately.
EXPECTED = {
    # tests/fixtures/submissions
    "broken_json": ("-", "invalid-notebook", "no", "not valid JSON"),
    "calls_answer_key": ("solve", "failed", "no", "not available while grading"),
    "cell_error": ("solve", "execution-error", "yes", "code cell 4 raised NameError"),
    "correct": ("solve", "passed", "yes", ""),
    "block_correct": ("init_block", "passed", "yes", ""),
    "block_unscaled": ("init_block", "failed", "no", "residual-unscaled: `init_block("),
    "exits_python": ("solve", "execution-error", "no", "process ended"),
    "float_seed": ("solve", "failed", "no", ".0 fails, seed="),
    "infinite_loop": ("-", "time-limit", "no", "code cell 1 did not finish"),
    "no_solve": ("-", "no-solve", "no", "no function named solve"),
    # tests/fixtures/hostile
    "block_fake_arrays": ("init_block", "failed", "no", "ln_1/scale is a Fake, not an array"),
    "block_huge_tree": ("init_block", "memory-limit", "no", "Out of memory allocating"),
    "exit_in_cell": ("-", "execution-error", "no", "while running code cell 2"),
    "exit_in_solve": ("solve", "execution-error", "no", "process ended"),
    "fake_results": ("solve", "failed", "no", ""),
    "forgery_patch_check": ("solve", "failed", "no", ""),
    "forgery_write_result": ("solve", "failed", "no", ""),
    "fork_bomb": ("-", "process-limit", "no", "code cell 1"),
    "infinite_output": ("-", "output-limit", "no", "output-limit"),
    "invalid_utf8": ("-", "invalid-notebook", "no", "not UTF-8"),
    "loop_in_cell": ("-", "time-limit", "no", "code cell 4 did not finish"),
    "loop_in_solve": ("solve", "time-limit", "no", "stopped: time-limit"),
    "memory_hog": ("-", "memory-limit", "no", "MemoryError"),
    "nbformat3": ("solve", "passed", "yes", ""),
    "patches_numpy": ("solve", "failed", "no", "kernel:glorot"),
    "solve_in_markdown": ("-", "no-solve", "no", "no function named solve"),
    # generated here
    "big_notebook": ("solve", "passed", "yes", ""),
    "deletes_files": ("solve", "passed", "yes", ""),
    "many_cells": ("solve", "passed", "yes", ""),
    "network": ("solve", "passed", "yes", ""),
    "reads_reference": ("solve", "failed", "no", "FileNotFoundError"),
    "reads_secrets": ("solve", "passed", "yes", ""),
    "submission_a_leaves_traces": ("solve", "passed", "yes", ""),
    "submission_b_finds_traces": ("solve", "passed", "yes", ""),
}


def _notebook(path: Path, *cells: str, markdown: str = "") -> None:
    book = new_notebook(cells=[new_markdown_cell(f"# {path.stem}\n\n{markdown}"),
                               *[new_code_cell(c) for c in cells]])
    nbformat.write(book, path)


def _generate(folder: Path, *, home: Path, report_dir: Path, port: int, reference: Path):
    """The notebooks that name this run's folders, and the two large ones."""
    targets = [str(FIXTURES / "hostile"), str(FIXTURES / "submissions"), str(home),
               str(report_dir), str(folder)]
    _notebook(folder / "reads_secrets.ipynb", IMPORTS, f'''import glob, os
found = [f"{{k}}={{v}}" for k, v in os.environ.items() if {SECRET!r} in v]
patterns = [os.path.join(root, "**", "*") for root in {targets!r}]
patterns += ["~/.ssh/*", "/root/.ssh/*", "/home/*/.ssh/*"]
for pattern in patterns:
    for path in glob.glob(os.path.expanduser(pattern), recursive=True):
        try:
            with open(path) as handle:
                found.append(f"{{path}}: {{handle.read(100)}}")
        except OSError:
            pass''', SOLVE, markdown="Reads ~/.ssh, the environment, the other submissions.")
    _notebook(folder / "network.ipynb", IMPORTS, f'''import socket
found = []
for host, port in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 53)]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        found.append(f"{{host}}:{{port}}")
    except OSError as exc:
        print("no connection:", exc)''', SOLVE, markdown="Opens network connections.")
    _notebook(folder / "deletes_files.ipynb", IMPORTS, f'''import glob, os, shutil
found = []
for root in {targets!r}:
    for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        try:
            os.remove(path)
            found.append(path)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)
for path in glob.glob("*") + glob.glob(os.path.expanduser("~/*")):
    try:
        os.remove(path)  # its own folder: allowed
    except OSError:
        pass''', SOLVE, markdown="Deletes every file it can find.")
    _notebook(folder / "reads_reference.ipynb", IMPORTS, f'''def solve(seed, x, features):
    namespace = {{}}
    exec(open({str(reference)!r}).read(), namespace)
    return namespace["solve"](seed, x, features)''',
              markdown="solve runs the reference, read from a file it cannot reach.")
    # Two submissions graded one after the other (or at once, with --jobs 2): what the first
    # leaves behind (files in /tmp and /dev/shm, a process, an abstract socket) must not
    # reach the second, which sees only its own processes and runs as another user.
    _notebook(folder / "submission_a_leaves_traces.ipynb", IMPORTS, f'''import os, socket, time
found = []
for path in ("/tmp/trace-{SECRET}", "/dev/shm/trace-{SECRET}"):
    with open(path, "w") as handle:
        handle.write(str(os.getuid()))
server = socket.socket(socket.AF_UNIX)
server.bind("\\0trace-{SECRET}")
server.listen(1)
if os.fork() == 0:
    time.sleep(600)
    os._exit(0)''', SOLVE, markdown="Leaves files, a process and a socket behind.")
    _notebook(folder / "submission_b_finds_traces.ipynb", IMPORTS, f'''import os, socket, time
found = []
for attempt in range(20):  # 10 s: the other submission may be running at the same time
    for path in ("/tmp/trace-{SECRET}", "/dev/shm/trace-{SECRET}"):
        if os.path.exists(path):
            found.append(path)
    client = socket.socket(socket.AF_UNIX)
    try:
        client.connect("\\0trace-{SECRET}")
        found.append("the other submission's socket")
    except OSError:
        pass
    client.close()
    others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
              and os.stat(f"/proc/{{p}}").st_uid != os.getuid()]
    if others:
        found.append(f"processes of other users: {{others}}")
    if found:
        break
    time.sleep(0.5)''', SOLVE, markdown="Looks for what another submission left behind.")
    _notebook(folder / "many_cells.ipynb", IMPORTS, "found = []",
              *[f"value_{i} = {i}" for i in range(4996)], SOLVE, "assert value_4995 == 4995")
    big = new_notebook(cells=[new_code_cell(IMPORTS), new_code_cell("found = []"),
                              new_code_cell(SOLVE)])
    big.cells[2].outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo" + "A" * (50 * 2**20)})]
    nbformat.write(big, folder / "big_notebook.ipynb")


def _fingerprint(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One run of the command on the whole corpus, two submissions at a time."""
    tmp = tmp_path_factory.mktemp("hostile")
    home, report_dir, generated, workdir = (tmp / n for n in ("home", "report", "gen", "work"))
    for folder in (home / ".ssh", report_dir, generated, workdir):
        folder.mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(f"PRIVATE KEY {SECRET}\n")
    reference = tmp / "reference.py"
    reference.write_text("from initcourse import solve\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    _generate(generated, home=home, report_dir=report_dir, port=listener.getsockname()[1],
              reference=reference)
    folders = (FIXTURES / "submissions", FIXTURES / "hostile", generated, home)
    before = _fingerprint(*folders)
    report = report_dir / "grades.csv"
    env = {**os.environ, "HOME": str(home), "INITCOURSE_SECRET_TOKEN": SECRET,
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "initcourse", "grade", str(FIXTURES / "submissions"),
         str(FIXTURES / "hostile"), str(generated), "--out", str(report), "--jobs", "2",
         "--timeout", "40", "--call-timeout", "5", "--seed", str(SEED)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
    try:
        connection = listener.accept()
    except BlockingIOError:
        connection = None
    listener.close()
    with report.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {"done": done, "rows": rows, "before": before, "after": _fingerprint(*folders),
            "connection": connection, "workdir": workdir, "report_dir": report_dir}


def _rows(graded):
    return {Path(r["file"]).stem: r for r in graded["rows"]}


def test_the_run_succeeds_and_says_it_was_isolated(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "NOT isolated" not in done.stderr + done.stdout
    assert f"{len(EXPECTED)} submissions" in done.stdout
    assert {r["run_seed"] for r in graded["rows"]} == {str(SEED)}
    assert {r["isolated"] for r in graded["rows"]} == {"yes"}


def test_every_submission_gets_its_status(graded):
    rows = _rows(graded)
    assert sorted(rows) == sorted(EXPECTED), "the report is incomplete"
    wrong = {}
    for name, (exercise, status, passed, detail) in EXPECTED.items():
        if name in TWO_OUTCOMES:
            continue  # asserted below
        row = rows[name]
        if (row["exercise"], row["status"], row["passed"]) != (exercise, status, passed) \
                or detail not in row["detail"]:
            wrong[name] = row
    assert not wrong, json.dumps(wrong, indent=1)


#: Submissions with two known outcomes. memory_hog: when the memory limit is hit inside
#: IPython's own traceback printing, the child dies with an error of IPython's
#: (execution-error) instead of reporting the MemoryError (memory-limit); which one happens
#: depends on where the allocation fails. Either way it fails, and names what happened.
TWO_OUTCOMES = {"memory_hog"}


def test_a_memory_hog_fails_with_one_of_its_two_known_outcomes(graded):
    row = _rows(graded)["memory_hog"]
    assert (row["exercise"], row["passed"]) == ("-", "no"), row
    if row["status"] == "memory-limit":
        assert "MemoryError" in row["detail"], row
    else:
        assert row["status"] == "execution-error" and "Error" in row["detail"], row


def test_forgeries_get_the_mistakes_of_their_real_functions(graded):
    """What the check says in this process of the same functions, unforged."""
    import jax.numpy as jnp

    import initcourse

    def zeros(seed, x, features):
        return jnp.zeros(int(features))

    rows = _rows(graded)
    for name, fn in [("forgery_write_result", lambda seed, x, features: [0.0]),
                     ("forgery_patch_check", lambda seed, x, features: None),
                     ("fake_results", zeros)]:
        seeded = "seed" in inspect.signature(initcourse.check).parameters
        expected = initcourse.check(fn, **({"seed": SEED} if seeded else {})).mistakes
        assert expected, name
        assert rows[name]["mistakes"] == " ".join(expected), rows[name]


def test_submissions_are_byte_identical_and_nothing_is_written_outside(graded):
    assert graded["after"] == graded["before"]
    assert list(graded["workdir"].iterdir()) == []
    assert [p.name for p in graded["report_dir"].iterdir()] == ["grades.csv"]


def test_no_connection_reached_the_instructors_machine(graded):
    assert graded["connection"] is None


def test_no_secret_and_no_escape_code_reaches_the_report(graded):
    text = json.dumps(graded["rows"]) + graded["done"].stdout
    assert SECRET not in text
    assert "\x1b" not in text


def test_no_process_is_left_behind(graded):
    """No submission's process (or sandbox) of this run outlives it: each one's command line
    names the run's compilation cache folder, deleted when the run ends (other runs, such as
    a benchmark on the same machine, have their own)."""
    leftover = []
    for entry in os.listdir("/proc"):
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"grading/child.py") for arg in args) and args[-2:]:
            settings = json.loads(next(a for a in reversed(args) if a.startswith(b"{")))
            if not os.path.isdir(settings["jax_cache"]):
                leftover.append(entry)
    assert leftover == []
