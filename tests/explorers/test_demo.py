"""The classroom demo without a browser: the page shows every explorer of the package, the
projector look re-renders the figures larger and sharp, the server command keeps the page
local, and `make demo` is documented. (tests/browser/test_demo_in_voila.py drives the page.)"""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import ipywidgets as widgets
import nbformat
import numpy as np
import pytest
from PIL import Image

import initcourse
from initcourse.explorers.demo import LOOKS, PROJECTOR_ZOOM, Demo, look_from_query

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "demo.ipynb"
TEMPLATE = ROOT / "share" / "jupyter" / "voila" / "templates" / "initcourse"
EXPLORERS = sorted(name for name in initcourse.__all__ if name.endswith("_explorer"))


def _tool():
    spec = importlib.util.spec_from_file_location("demo_tool", ROOT / "tools" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _picture(explorer) -> tuple[Image.Image, widgets.Image]:
    (image,) = [w for w in explorer.widget.children if isinstance(w, widgets.Image)]
    return Image.open(io.BytesIO(image.value)), image


@pytest.mark.parametrize("name", EXPLORERS)
def test_the_demo_page_shows_every_explorer_of_the_package(name):
    sources = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    assert any(f"demo.add(initcourse.{name}," in source for source in sources), (
        f"initcourse.{name} is not on the demo page: add it to notebooks/demo.ipynb "
        f"with `demo.add(initcourse.{name}, ...)` and one or two sentences of what to try"
    )


def test_each_explorer_comes_with_what_to_try():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and "demo.add(" in cell.source:
            before = cells[index - 1]
            assert before.cell_type == "markdown" and before.source.startswith("## "), (
                f"cell {index}: an explorer follows a '## ' heading and what to try with it"
            )
            sentences = re.split(r"(?<=[.:!?])\s+(?=[A-Z])", before.source.split("\n", 1)[1].strip())
            assert 1 <= len(sentences) <= 3, before.source


def test_the_look_comes_from_the_page_address():
    assert look_from_query("") == ("classroom", "")
    assert look_from_query("token=abc&look=projector") == ("projector", "")
    look, note = look_from_query("token=abc&look=projecter")
    assert look == "classroom" and "'projecter'" in note and "projector" in note


def test_a_bad_look_is_named(monkeypatch):
    with pytest.raises(ValueError, match=r"look must be one of .*received 'big'"):
        Demo(look="big")
    monkeypatch.setenv("QUERY_STRING", "token=x&look=<b>big</b>")
    demo = Demo()
    assert demo.look.value == "classroom"
    assert "&lt;b&gt;big&lt;/b&gt;" in demo.note.value  # shown, not interpreted


def test_the_projector_look_renders_the_figures_larger_and_sharp(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "token=x")
    demo = Demo()
    assert demo.look.options == LOOKS and demo.look.value == "classroom"
    fan_in = demo.add(initcourse.fan_in_explorer, fan_in=64, seed=0)
    depth = demo.add(initcourse.depth_explorer, depth=5, width=64, seed=0)
    before = {e: (_picture(e)[0].size, e.readout) for e in (fan_in, depth)}
    assert "zoom" not in demo.style.value

    stats = fan_in.stats
    demo.look.value = "projector"
    assert f"zoom: {PROJECTOR_ZOOM}" in demo.style.value
    assert fan_in.stats is stats, "a new look re-renders, it does not recompute"
    for explorer, ((width, height), readout) in before.items():
        picture, image = _picture(explorer)
        # PROJECTOR_ZOOM times the pixels, shown in the same CSS width (the page's zoom
        # enlarges it): larger type and lines, not a blurred upscale.
        assert picture.size == (round(width * PROJECTOR_ZOOM), round(height * PROJECTOR_ZOOM))
        assert image.layout.width == f"{width}px"
        assert explorer.readout == readout
        # The moving parts (bars, curves, markers) are on it: the same picture as the
        # explorer's own update gives.
        explorer.set(**explorer.values())
        updated = np.asarray(_picture(explorer)[0], dtype=float)
        assert np.abs(np.asarray(picture, dtype=float) - updated).mean() < 1.0

    fan_in.fan_in.value = 256  # the controls still work in the projector look
    assert _picture(fan_in)[0].size[0] == round(before[fan_in][0][0] * PROJECTOR_ZOOM)
    assert "1/√256" in fan_in.readout

    late = demo.add(initcourse.fan_in_explorer, fan_in=16)  # added in the projector look
    assert _picture(late)[0].size[0] == round(before[fan_in][0][0] * PROJECTOR_ZOOM)

    demo.look.value = "classroom"
    assert demo.style.value == ""
    for explorer, (size, _) in before.items():
        assert _picture(explorer)[0].size == size
    assert repr(demo) == "Demo(look='classroom', explorers=3)"


def test_the_server_command_keeps_the_page_local_and_private():
    tool = _tool()
    command = tool.command(tool.NOTEBOOK, 8866, "a-token-of-sixteen-chars")
    assert "--Voila.ip=127.0.0.1" in command and "--Voila.port=8866" in command
    assert "--Voila.token=a-token-of-sixteen-chars" in command
    assert "--VoilaConfiguration.strip_sources=True" in command
    assert f"--VoilaConfiguration.template={TEMPLATE.name}" in command
    assert tool.addresses(8866, "t")["projector"] == "http://127.0.0.1:8866/?token=t&look=projector"
    env = tool.environment()
    assert env["JUPYTER_PATH"].split(":")[0] == str(TEMPLATE.parents[2])
    assert env["PYTHONPATH"].split(":")[0] == str(ROOT)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port=0"], "--port must be between 1 and 65535, got 0"),
        (["--token=short"], "--token must be at least 16 .* got 'short'"),
        (["--token=has spaces in it, 16+"], "got 'has spaces in it, 16\\+'"),
        (["--notebook=missing.ipynb"], "no such file: missing.ipynb"),
    ],
)
def test_the_server_script_names_a_bad_argument(argv, message, capsys):
    with pytest.raises(SystemExit):
        _tool().parse(argv)
    assert re.search(message, capsys.readouterr().err)


def test_the_template_links_nothing_beyond_the_server():
    assert (TEMPLATE / "conf.json").is_file()
    for path in TEMPLATE.iterdir():
        text = path.read_text()
        assert not re.search(r"""(href|src)\s*=\s*["']?(https?:)?//""", text), path.name
        assert not re.search(r"""import\(\s*["']https?:""", text), path.name


def test_make_demo_is_a_target_and_documented():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^demo: install  ## .+\n\t(.+)$", makefile, re.M)
    assert target, "make demo: depends on install, has a ## help line"
    assert "tools/demo.py" in target.group(1)
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "docs/demo-projector.png" in readme
    picture = ROOT / "docs" / "demo-projector.png"
    assert picture.stat().st_size < 150_000, f"{picture.name}: keep it small"
    assert Image.open(picture).format == "PNG"
