"""The project's setup files agree with each other (one source of truth for dependencies)."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = version
    return pins


def _requirements():
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_every_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"
        )


def test_environment_yml_agrees_with_pyproject():
    deps = ENVIRONMENT["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml must have exactly one pip: section"
    pip = pip_sections[0]

    python = [d for d in conda if re.match(r"python\b", d)]
    assert python, "environment.yml must pin Python"
    version = re.sub(r"^python\s*=*\s*", "", python[0])
    requires = PYPROJECT["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(requires).contains(version + ".0"), (
        f"environment.yml's python {version} is outside pyproject's requires-python {requires}"
    )
    assert version == "3.11"
    assert "pip" in conda
    # Everything else comes through pip from pyproject.toml, constrained by constraints.txt.
    assert set(conda) == {python[0], "pip"}, f"conda packages beyond python and pip: {conda}"
    assert "-e ." in pip or "." in pip, "environment.yml must install the package itself"
    assert "-c constraints.txt" in pip, "environment.yml must install with constraints.txt"
    others = [p for p in pip if p not in {"-e .", ".", "-c constraints.txt"}]
    declared = {canonicalize_name(r.name): r for r in _requirements()}
    pins = _pins()
    for line in others:  # anything listed separately must agree with pyproject and the pins
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in declared, f"{req.name} is not in pyproject.toml"
        assert req.specifier.contains(pins[name]), (
            f"environment.yml asks for {line!r}, but constraints.txt pins {pins[name]}"
        )
        assert declared[name].specifier.contains(pins[name])


def test_the_installed_environment_is_the_pinned_one():
    from importlib.metadata import PackageNotFoundError, version

    mismatched = []
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            mismatched.append(f"{name}: not installed (pinned {pinned})")
            continue
        if installed != pinned:
            mismatched.append(f"{name}: installed {installed}, pinned {pinned}")
    assert not mismatched, "run `make install`:\n" + "\n".join(mismatched)


def test_import_has_no_side_effects():
    code = (
        "import gc, sys, matplotlib, jax\n"
        "before = dict(matplotlib.rcParams)\n"
        "x64 = jax.config.jax_enable_x64\n"
        "callbacks = list(gc.callbacks)\n"
        "import initcourse, initcourse.meanfield, initcourse.training\n"
        "assert dict(matplotlib.rcParams) == before\n"
        "assert jax.config.jax_enable_x64 == x64\n"
        "assert gc.callbacks == callbacks, 'memory.py adds its hooks on first use only'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    lazy = subprocess.run(
        [sys.executable, "-c",
         "import sys, initcourse; print(sorted(m for m in ('matplotlib', 'ipywidgets') "
         "if m in sys.modules))"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    assert lazy.stdout.strip() == "[]", "import initcourse must not load matplotlib or ipywidgets"
    assert lazy.stderr == ""


def test_makefile_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "lab", "test", "lint", "bench", "notebooks", "grade"):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is missing"
    # JupyterLab is bound to loopback and its token is never disabled.
    lab = makefile.split("\nlab:")[1].split("\n\n")[0]
    assert "--ip=127.0.0.1" in lab
    assert "token=''" not in lab and 'token=""' not in lab and "disable_check_xsrf" not in lab
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_code_and_notebooks_pass_the_linter():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "initcourse", "tests", "benchmarks", "notebooks", "tools"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
