"""TrainingMonitor: live curves of any training metrics while a loop trains.

    monitor = TrainingMonitor(["loss"], smoothing=0.9)
    monitor.show()
    history = train_sft(model, tokenizer, examples, on_step=monitor.update)
    monitor.finish()

Works for any metric names (``loss`` for SFT; ``reward``, ``kl``, ``entropy``, ``abstain`` for
RL). Every update is kept in ``monitor.history``; the figure is redrawn at most every
``min_interval_s`` seconds (or every ``redraw_every`` updates), so drawing never slows training
down much. In static mode (CI, ``COURSE_STATIC_WIDGETS=1``) nothing is drawn while training and
:meth:`finish` shows the final figure instead.
"""

from __future__ import annotations

import html
import io
import math
import numbers
import time
from collections.abc import Iterable, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..plots import smooth, training_curves
from .common import display_widget_or_static, static_mode


def _as_float(name: str, value: object) -> float:
    """``value`` as a float, or a clear error naming the metric."""
    if not isinstance(value, (bool, str, bytes)) and not isinstance(value, numbers.Real):
        size = value.numel() if hasattr(value, "numel") else getattr(value, "size", None)
        if size == 1 and hasattr(value, "item"):
            value = value.item()  # a one-element tensor or array
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, numbers.Real):
        raise ValueError(f"metric {name!r} must be a number (int, float or a one-element "
                         f"tensor), got {type(value).__name__} {value!r:.60}")
    return float(value)


class TrainingMonitor:
    """Live training curves, one panel per metric, with optional smoothing.

    Args:
        metrics: names of the metrics to plot (e.g. ``["loss"]`` or ``["reward", "kl"]``).
            Other keys passed to :meth:`update` (e.g. ``"step"``) are kept in the history.
        smoothing: exponential moving average factor in [0, 1): 0 plots the raw values, 0.9
            averages over about the last 10 updates (the raw values stay visible, faint).
        min_interval_s: redraw at most this often (seconds) while training.
        redraw_every: if given, redraw every this many updates instead (ignores the clock).
        title: shown above the panels.
    """

    def __init__(self, metrics: Sequence[str] | str, smoothing: float = 0.0,
                 min_interval_s: float = 1.0, redraw_every: int | None = None,
                 title: str | None = None):
        if isinstance(metrics, str):
            metrics = [metrics]
        if not isinstance(metrics, Sequence) or len(metrics) == 0:
            raise ValueError("metrics must be a non-empty list of metric names, e.g. ['loss']")
        for m in metrics:
            if not isinstance(m, str) or not m:
                raise ValueError(f"metric names must be non-empty strings, got {m!r}")
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"metric names must be distinct, got {list(metrics)}")
        if not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
        if not isinstance(min_interval_s, (int, float)) or min_interval_s < 0:
            raise ValueError(f"min_interval_s must be a number >= 0, got {min_interval_s!r}")
        if redraw_every is not None and (not isinstance(redraw_every, int) or redraw_every <= 0):
            raise ValueError(f"redraw_every must be a positive int or None, got {redraw_every!r}")
        self.metrics = list(metrics)
        self.smoothing = float(smoothing)
        self.min_interval_s = float(min_interval_s)
        self.redraw_every = redraw_every
        self.title = title
        self.history: list[dict[str, float]] = []
        self.n_draws = 0  # how many times the live figure was rendered
        self._last_draw = -math.inf
        self._shown = False
        self._fig: Figure | None = None
        self._build()

    # the widget ------------------------------------------------------------------------------
    def _build(self) -> None:
        import ipywidgets as w

        self.image = w.Image(value=b"", format="png")
        self.status = w.HTML(value="<i>waiting for the first step...</i>")
        self.widget = w.VBox([self.status, self.image])

    def show(self) -> None:
        """Display the live widget (in static mode, nothing until :meth:`finish`)."""
        self._shown = True
        if not static_mode():
            display_widget_or_static(self.widget)

    def __enter__(self) -> TrainingMonitor:
        self.show()
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

    # updates ---------------------------------------------------------------------------------
    def update(self, metrics: Mapping[str, object]) -> None:
        """Record one step's metrics (use it as ``on_step=monitor.update``); maybe redraw."""
        if not isinstance(metrics, Mapping):
            raise ValueError(f"update takes a dict of metrics, got {type(metrics).__name__}")
        if not any(m in metrics for m in self.metrics):
            raise ValueError(f"update got the metrics {sorted(metrics)} but the monitor plots "
                             f"{self.metrics}: none of them is there")
        row = {str(k): _as_float(str(k), v) for k, v in metrics.items()}
        self.history.append(row)
        if static_mode():
            return
        now = time.monotonic()
        due = (len(self.history) % self.redraw_every == 0 if self.redraw_every is not None
               else now - self._last_draw >= self.min_interval_s)
        if due:
            self.redraw()

    def extend(self, history: Iterable[Mapping[str, object]]) -> None:
        """Add many steps at once (e.g. a saved history), then redraw once."""
        for metrics in history:
            if not isinstance(metrics, Mapping):
                raise ValueError("history must be a list of dicts of metrics")
            if not any(m in metrics for m in self.metrics):
                raise ValueError(f"a step has the metrics {sorted(metrics)} but the monitor "
                                 f"plots {self.metrics}")
            self.history.append({str(k): _as_float(str(k), v) for k, v in metrics.items()})
        if not static_mode():
            self.redraw()

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """``(steps, values)`` of one metric over the whole history."""
        if not any(name in h for h in self.history) and name not in self.metrics:
            raise ValueError(f"no metric {name!r}; the monitor has {self.metrics}")
        rows = [(h.get("step", i), h[name]) for i, h in enumerate(self.history) if name in h]
        return [r[0] for r in rows], [r[1] for r in rows]

    def smoothed(self, name: str) -> list[float]:
        """The moving average of one metric, as plotted."""
        return smooth(self.series(name)[1], self.smoothing)

    @property
    def latest(self) -> dict[str, float]:
        """The last value of each plotted metric (smoothed when smoothing is on)."""
        return {m: self.smoothed(m)[-1] for m in self.metrics if self.series(m)[1]}

    # drawing ---------------------------------------------------------------------------------
    def figure(self) -> Figure:
        """The curves as a (new) matplotlib figure: the static view, or for a report."""
        return training_curves(self.history, self.metrics, self.smoothing, self.title)

    def redraw(self) -> None:
        """Render the curves into the live widget now."""
        self._fig = training_curves(self.history, self.metrics, self.smoothing, self.title,
                                    fig=self._fig)
        buf = io.BytesIO()
        FigureCanvasAgg(self._fig).print_png(buf)
        self.image.value = buf.getvalue()
        step = self.history[-1].get("step", len(self.history) - 1) if self.history else 0
        values = ", ".join(f"{k} = {v:.4g}" for k, v in self.latest.items())
        self.status.value = html.escape(f"step {step:g}: {values}")
        self.n_draws += 1
        self._last_draw = time.monotonic()

    def finish(self) -> None:
        """Draw the final curves: into the live widget, or in static mode as a figure."""
        if static_mode():
            display_widget_or_static(self.widget, static_figure=self.figure)
            return
        if not self._shown:
            self.show()
        if self.history:
            self.redraw()

    def _ipython_display_(self) -> None:
        if static_mode():
            display_widget_or_static(self.widget, static_figure=self.figure)
            return
        if self.history:
            self.redraw()
        self._shown = True
        display_widget_or_static(self.widget)
