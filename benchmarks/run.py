"""``make bench``: run the benchmarks one after another and write what they printed to
``benchmarks/RESULTS.md`` (the file the README's figures link), with the machine they ran on.

    python benchmarks/run.py [foundation explorers phase training ...]

Each script runs in a process of its own (so one's memory and compilations do not weigh
on the next), its output shown as it comes. The results file is written only when every
script succeeded, and replaced whole, so a failed run leaves the last good one.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = ("foundation", "explorers", "phase", "training", "residual", "audit", "width")
RESULTS = HERE / "RESULTS.md"
#: Each summary figure's goal: (script, figure) -> (at most, or exactly, the bound).
GOALS = {
    ("foundation", "layer_stats_vs_bare"): ("<=", 1.25),
    ("foundation", "cold_vs_bare"): ("<=", 1.25),
    ("foundation", "compiles_per_shape"): ("==", 1),
    ("foundation", "import_ratio"): ("<=", 1.2),
    ("foundation", "sweep_compiles"): ("==", 1),
    ("explorers", "fan_in_p50_ms"): ("<=", 25),
    ("explorers", "depth_p50_ms"): ("<=", 50),
    ("explorers", "compiles_after_warmup"): ("==", 0),
    ("phase", "ratio"): ("<=", 1.5),
    ("phase", "compiles_after_warmup"): ("==", 0),
    ("training", "step_ratio"): ("<=", 1.15),
    ("training", "explorer_overhead_ratio"): ("<=", 1.3),
    ("training", "compiles_after_warmup"): ("==", 0),
    ("residual", "explorer_p50_ms"): ("<=", 50),
    ("residual", "compiles_after_warmup"): ("==", 0),
    ("audit", "transformer_ratio"): ("<=", 4),
    ("audit", "conv_ratio"): ("<=", 4),
    ("width", "coord_compiles"): ("==", 5),
    ("width", "sweep_compiles"): ("==", 3),
    ("width", "sweep_vs_bare"): ("<=", 1.0),
}


def machine() -> str:
    import jax

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"JAX {jax.__version__} on the CPU")


def run(name: str) -> tuple[str, float]:
    script = HERE / f"{name}.py"
    if not script.exists():
        choices = ", ".join(sorted(p.stem for p in HERE.glob("*.py") if p.stem not in ("common", "run")))
        raise SystemExit(f"benchmark {name!r} does not exist; choose among {choices}")
    start, lines = time.perf_counter(), []
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if proc.returncode:
        raise SystemExit(f"benchmarks/{name}.py failed (exit status {proc.returncode}); "
                         f"{RESULTS.name} is left as it was")
    return "".join(lines), time.perf_counter() - start


def goal_rows(summary: list[str]) -> list[str]:
    """A Markdown row per figure of the summary lines: its value, its goal, met or not."""
    rows = []
    for line in summary:
        script, _, figures = line.partition(": ")
        for item in figures.split():
            figure, _, value = item.partition("=")
            goal = GOALS.get((script, figure))
            if goal is None:
                met, shown = "", ""
            else:
                kind, bound = goal
                number = float(value)
                met = "yes" if (number <= bound if kind == "<=" else number == bound) else "**no**"
                shown = f"{kind} {bound}"
            rows.append(f"| {script} | `{figure}` | {value} | {shown} | {met} |")
    return rows


def main(names) -> None:
    sections = []
    for name in names:
        output, seconds = run(name)
        sections.append(f"## `benchmarks/{name}.py` ({seconds:.0f} s)\n\n```\n{output.rstrip()}\n```\n")
    summary = [line for s in sections for line in s.splitlines()
               if line.split(":", 1)[0] in names]
    table = ["| script | figure | measured | goal | met |", "|---|---|---|---|---|",
             *goal_rows(summary)]
    text = (f"# Benchmark results\n\nWritten by `make bench` on {time.strftime('%Y-%m-%d')}, "
            f"{machine()}. The machine is shared: compare ratios measured in one run, not "
            f"absolute times across runs.\n\n" + "\n".join(table) + "\n\nSummary lines:\n\n```\n"
            + "\n".join(summary) + "\n```\n\n" + "\n".join(sections))
    partial = RESULTS.with_suffix(".md.partial")
    partial.write_text(text)
    partial.replace(RESULTS)
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
