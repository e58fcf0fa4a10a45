"""The training explorer: train up to three initializers side by side and watch the loss.

``ex = training_explorer()`` shows controls, Train and Stop, the curves and a readout;
``ex.train()`` trains headless (in this thread) and returns the TrainHistory list.
**Train** runs in a background thread, so the Jupyter kernel keeps handling the page's
messages: **Stop** (or ``ex.stop()``) is seen at the next chunk of ``RECORD_EVERY`` steps;
the figure, progress bar and readout are redrawn after every chunk. The runs use
:func:`initcourse.train_runs`'s machinery: a new initializer, seed or learning rate never
recompiles.
"""
from __future__ import annotations

import math
import threading
import weakref

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from initcourse import _validate, figures
from initcourse import initializers as _inits
from initcourse.activations import ACTIVATIONS
from initcourse.explorers import base, controls
from initcourse.training import runs as training

__all__ = ["TrainingExplorer", "training_explorer"]

NONE = "none"
#: The explorer's initializers: the registry (``normal`` with two stddevs) and LSUV.
CHOICES = {**{n: {"initializer": n} for n in _inits.INITIALIZERS if n != "normal"},
           "normal(0.01)": {"initializer": "normal", "stddev": 0.01},
           "normal(0.2)": {"initializer": "normal", "stddev": 0.2},
           "lsuv": {"initializer": "lsuv"}}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
WIDTHS = (16, 32, 64, 128, 256)
STEPS = (100, 200, 400, 800, 1600)
EXPLORER_MAX_DEPTH, EXPLORER_MAX_STEPS = 50, 2000
_TOP = 3.0  # the loss axis: 0 to 3 (ln 10 = 2.30 sits near its top)


class TrainingExplorer(base.Explorer):
    """Train up to three initializers side by side on the digits; loss curves and a readout.

    Arguments:
        initializers: one to three names of ``CHOICES`` (registry names, ``"normal(0.01)"``,
            ``"normal(0.2)"``, ``"lsuv"``).
        activation: one of ``initcourse.activations.ACTIVATIONS``.
        depth: hidden layers, 1 to 50. width: one of ``WIDTHS``.
        optimizer: ``"sgd"`` (momentum 0.9) or ``"adam"``. learning_rate: 1e-5 to 10.
        steps: 1 to 2000. seed: 0 to 2**32 - 1. canvas: ``"auto"``, ``"ipympl"``, ``"image"``.

    Controls: ``.initializer_1`` to ``.initializer_3`` (``"none"`` leaves a slot empty),
    ``.activation``, ``.depth``, ``.width``, ``.optimizer``, ``.learning_rate``, ``.steps``,
    ``.seed``; buttons ``.train_button``, ``.stop_button``; ``.progress``. After training,
    ``.histories`` holds one :class:`~initcourse.training.runs.TrainHistory` per initializer.
    """

    controls = ("initializer_1", "initializer_2", "initializer_3", "activation", "depth", "width",
                "optimizer", "learning_rate", "steps", "seed")
    css = "initcourse-training-explorer"
    readout_size = "1.1em"  # its readout is a line per run

    def __init__(self, initializers=("he_normal", "glorot_normal"), activation="relu", depth=30,
                 width=64, optimizer="sgd", learning_rate=0.01, steps=400, seed=0, *,
                 canvas="auto"):
        if isinstance(initializers, str) or not isinstance(initializers, (list, tuple)) \
                or not 1 <= len(initializers) <= 3:
            raise TypeError(f"initializers must be a list of one to three names; received "
                            f"{initializers!r}")
        names = (*CHOICES,)
        chosen = [_validate.choice("initializers", n, names) for n in initializers]
        chosen += [NONE] * (3 - len(chosen))
        style, wide = controls.STYLE, controls.WIDE
        for slot, name in enumerate(chosen, start=1):
            options = names if slot == 1 else (NONE, *names)
            setattr(self, f"initializer_{slot}", controls.Dropdown(
                options=options, value=name, description=f"initializer {slot}", style=style))
        self.activation = controls.Dropdown(options=tuple(ACTIVATIONS), value=_validate.choice(
            "activation", activation, tuple(ACTIVATIONS)), description="activation", style=style)
        self.optimizer = controls.Dropdown(options=training.OPTIMIZERS, value=_validate.choice(
            "optimizer", optimizer, training.OPTIMIZERS), description="optimizer", style=style)
        depth = _validate.integral("depth", depth, minimum=1, maximum=EXPLORER_MAX_DEPTH)
        self.depth = controls.IntSlider(value=depth, min=1, max=EXPLORER_MAX_DEPTH, description="depth",
                                        style=style, layout=dict(wide))
        self.width = controls.LadderSlider("width", width, WIDTHS, minimum=WIDTHS[0],
                                           maximum=WIDTHS[-1], off_ladder=False, style=style,
                                           layout=dict(wide))
        self.learning_rate = controls.LadderSlider(
            "learning_rate", learning_rate, LEARNING_RATES, minimum=1e-5, maximum=10, real=True,
            style=style, layout=dict(wide))
        self.steps = controls.LadderSlider("steps", steps, STEPS, minimum=1, maximum=EXPLORER_MAX_STEPS,
                                           style=style, layout=dict(wide))
        seed = _validate.seed(seed)
        self.seed = controls.seed_box(seed)
        # Colours of our own, not the "success"/"danger" styles: white on JupyterLab's
        # success green is 4.1:1 (WCAG AA asks 4.5:1, axe-core flags it); these are 7.9:1
        # and 6.6:1, in every state of the button (inline styles win over the theme's).
        self.train_button = widgets.Button(description="Train", icon="play",
                                           tooltip="train the runs side by side",
                                           style=widgets.ButtonStyle(button_color="#1b5e20",
                                                                     text_color="white"))
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True,
                                          tooltip="stop after the current steps",
                                          style=widgets.ButtonStyle(button_color="#b71c1c",
                                                                    text_color="white"))
        self.train_button.add_class("initcourse-train"), self.stop_button.add_class("initcourse-stop")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="step 0",
                                            style=style)
        self.histories: list[training.TrainHistory] = []
        self.status = "ready"
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._build_figure()
        self.train_button.on_click(_weak_callback(self._on_train))
        self.stop_button.on_click(_weak_callback(self.stop, with_button=False))
        rows = [widgets.HBox([self.initializer_1, self.initializer_2, self.initializer_3]),
                widgets.HBox([self.activation, self.optimizer, self.seed]),
                widgets.HBox([self.depth, self.width]),
                widgets.HBox([self.learning_rate, self.steps]),
                widgets.HBox([self.train_button, self.stop_button, self.progress])]
        self.assemble(rows, canvas=canvas, animated=self._animated)

    # -- figure --------------------------------------------------------------------------

    def _build_figure(self) -> None:
        with figures.style():
            fig = Figure(figsize=(8.4, 3.6))
            loss_ax, acc_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
            # Each run differs by its line style (loss) and marker (accuracy), not only colour.
            self._loss_lines = [loss_ax.plot([], [], color=c, linestyle=ls, label=" ")[0]
                                for c, ls in zip(figures.CYCLE[:3], ("-", "--", ":"), strict=True)]
            self._marks = [loss_ax.plot([], [], "x", ms=11, mew=2.5, color=c)[0]
                           for c in figures.CYCLE[:3]]
            self._acc_lines = [acc_ax.plot([], [], color=c, marker=m, ms=3)[0]
                               for c, m in zip(figures.CYCLE[:3], ("o", "s", "^"), strict=True)]
            loss_ax.axhline(math.log(10), color=figures.PALETTE["black"], ls="--", lw=1.2)
            loss_ax.text(0.99, math.log(10) / _TOP + 0.02, "ln 10", transform=loss_ax.transAxes,
                         ha="right", va="bottom", fontsize=11)
            loss_ax.set_ylim(0, _TOP)
            loss_ax.set_xlabel("step")
            loss_ax.set_ylabel("training loss")
            acc_ax.set_ylim(0, 1)
            acc_ax.set_xlabel("step")
            acc_ax.set_ylabel("test accuracy")
            self._note = loss_ax.text(0.5, 0.5, "", transform=loss_ax.transAxes, ha="center",
                                      va="center", fontsize=13)
            fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.84, wspace=0.28)
        self.figure, self._loss_ax, self._acc_ax = fig, loss_ax, acc_ax
        self._animated = [*self._loss_lines, *self._marks, *self._acc_lines, self._note]

    def _runs(self, values) -> list[dict]:
        slots = [values[f"initializer_{i}"] for i in (1, 2, 3)]
        return [dict(CHOICES[name], label=name) for name in slots if name != NONE]

    def compute(self, **values):  # before training: the runs the controls describe
        return {"labels": [r["label"] for r in self._runs(values)], "histories": [],
                "steps": values["steps"], "status": "ready"}

    def draw(self, state):
        labels, found = state["labels"], state["histories"]
        for i, (line, mark, acc) in enumerate(zip(self._loss_lines, self._marks, self._acc_lines,
                                                  strict=True)):
            h = found[i] if i < len(found) else None
            line.set_visible(i < len(labels))
            if h is None:
                for artist in (line, mark, acc):
                    artist.set_data([], [])
                continue
            shown = h.loss[: h.steps_run]
            line.set_data(np.arange(shown.size), np.minimum(shown, _TOP * 1.5))
            mark.set_data(([h.diverged_at], [_TOP * 0.97]) if h.diverged_at is not None
                          else ([], []))
            acc.set_data(h.record_steps, h.test_accuracy_curve)
        self._note.set_text("press Train" if not found else "")
        scene = (tuple(labels), state["steps"])
        if scene != getattr(self, "_legend_scene", None):
            self._legend_scene = scene
            for line, label in zip(self._loss_lines, labels, strict=False):
                line.set_label(label)
            self._loss_ax.legend(self._loss_lines[: len(labels)], labels, loc="upper left",
                                 bbox_to_anchor=(0.0, 1.22), ncol=3, fontsize=10, frameon=False)
            for ax in (self._loss_ax, self._acc_ax):
                ax.set_xlim(0, state["steps"])
        return scene

    def describe(self, state) -> str:
        found = state["histories"]
        if not found:
            return f"{' · '.join(state['labels'])}: press Train ({state['steps']} steps)"
        parts = []
        for h in found:
            if h.diverged_at is not None:
                parts.append(f"{h.label}: loss {h.initial_loss:.3g} at step 0, diverged at step "
                             f"{h.diverged_at}")
            else:
                parts.append(f"{h.label}: loss {h.initial_loss:.3f} -> {h.final_loss:.3f}, "
                             f"test accuracy {h.test_accuracy:.3f}")
        return f"{state['status']} · " + " · ".join(parts)

    # -- training ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while a training thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _update(self) -> None:
        if self.running:  # the controls apply to the next Train; the curves stay
            return
        super()._update()

    def set(self, **values) -> None:
        """Set several controls at once (see :meth:`initcourse.explorers.base.Explorer.set`);
        refused while training runs."""
        if not self.closed and self.running:
            raise RuntimeError("training is running: press Stop (or call .stop()) before changing "
                               "the controls")
        super().set(**values)

    def train(self, *, wait: bool = True) -> list[training.TrainHistory] | None:
        """Train the runs the controls describe.

        With ``wait=True`` (tests, benchmarks) it trains in this thread and returns the
        histories; with ``wait=False`` (the Train button) it starts a background thread
        and returns None at once: see :meth:`stop` and :meth:`wait`.
        """
        if self.closed:
            raise RuntimeError("this TrainingExplorer was closed (its cell was re-run); use the "
                               "explorer the cell built last")
        with self._lock:
            if self.running:
                raise RuntimeError("training is already running: press Stop or wait for it")
            values = self.values()
            runs = self._runs(values)
            # Checked and drawn here, so a bad combination raises in the caller's thread.
            state = training.start_runs(
                runs, values["activation"], depth=values["depth"], width=values["width"],
                steps=values["steps"], optimizer=values["optimizer"], seed=values["seed"],
                learning_rate=values["learning_rate"])
            self._stop.clear()
            self._set_running(True, values["steps"])
            if not wait:
                self._thread = threading.Thread(target=self._loop, args=(state, values),
                                                name="initcourse-training", daemon=True)
                self._thread.start()
                return None
        self._loop(state, values)
        return self.histories

    def stop(self) -> None:
        """Ask the running training to stop after its current chunk of steps."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the training thread; True if it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _loop(self, state, values) -> None:
        status = "finished"
        try:
            while not state.finished:
                if self._stop.is_set():
                    status = f"stopped at step {state.done}"
                    break
                state.advance()
                self._show_runs(state, values, f"step {state.done} of {values['steps']}")
        except Exception as error:  # noqa: BLE001 - shown in the readout, never lost
            status = f"failed: {type(error).__name__}: {error}"
            raise
        finally:
            if not self.closed:
                self._show_runs(state, values, status)
                self._set_running(False, values["steps"])

    def _show_runs(self, state, values, status) -> None:
        self.histories = training.histories(state)
        self.status = status
        self._show({"labels": state.labels, "histories": self.histories,
                    "steps": values["steps"], "status": status})
        self.progress.value = state.done
        self.progress.description = f"step {state.done}"

    def _set_running(self, running: bool, steps: int) -> None:
        if running:
            self.progress.max, self.progress.value = steps, 0
        for name in self.controls:
            getattr(self, name).disabled = running
        self.train_button.disabled = running
        self.stop_button.disabled = not running

    def _on_train(self, button) -> None:  # the Train button: in the background
        self.train(wait=False)
    def close(self) -> None:
        """Stop the training (waiting for its chunk), then close like every explorer."""
        if not self.closed:
            self._stop.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=30)
        super().close()


def _weak_callback(method, *, with_button=True):
    """A button callback that holds its explorer weakly (so a dropped explorer is freed)."""
    ref = weakref.WeakMethod(method)

    def call(button) -> None:
        target = ref()
        if target is not None:
            target(*([button] if with_button else []))

    return call


def training_explorer(**kwargs) -> TrainingExplorer:
    """A :class:`TrainingExplorer`; end a notebook cell with it to show it."""
    return TrainingExplorer(**kwargs)
