"""Figures and tables the lessons share: training curves, the calibration view, rate tables.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is
drawn twice and nothing leaks between cells: show it with ``display(fig)`` (or as a cell's last
expression). Tables are plain HTML strings (no pandas needed): ``display(HTML(html_table(...)))``.
Figures come from :func:`new_figure` (use it for a figure of your own too): inside IPython the
first one tells IPython to draw such figures as images
(:func:`course_lib.settings.enable_figure_display`). Importing the module does nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from .settings import enable_figure_display


def new_figure(**kwargs) -> Figure:
    """``Figure(**kwargs)`` (``layout="constrained"`` unless given), drawn as an image when a
    notebook cell displays it."""
    enable_figure_display()
    return Figure(**{"layout": "constrained", **kwargs})


# --- smoothing and training curves ---------------------------------------------------------------


def smooth(values: Sequence[float], smoothing: float = 0.0) -> list[float]:
    """Exponential moving average ``m_t = s m_{t-1} + (1 - s) v_t``, debiased (as TensorBoard).

    ``smoothing`` = 0 returns the values; 0.9 averages over roughly the last 10. NaN values are
    skipped (they stay NaN in the output and do not disturb the average).
    """
    if not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        v = float(v)
        if math.isnan(v):
            out.append(float("nan"))
            continue
        avg = smoothing * avg + (1 - smoothing) * v
        weight = smoothing * weight + (1 - smoothing)
        out.append(avg / weight)
    return out


def training_curves(history: Sequence[Mapping[str, float]], metrics: Sequence[str],
                    smoothing: float = 0.0, title: str | None = None,
                    fig: Figure | None = None) -> Figure:
    """One panel per metric: the raw values (faint) and their moving average, against the step.

    ``history`` is a list of metric dicts (as ``train_sft`` returns); the x axis is the
    ``"step"`` entry when present, else the position in the history.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics:
        raise ValueError("metrics must name at least one metric")
    fig = fig or new_figure(figsize=(min(4.0 * len(metrics), 12.0), 2.8))
    fig.clear()
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, name in zip(axes, metrics):
        rows = [(h.get("step", i), h[name]) for i, h in enumerate(history) if name in h]
        xs, ys = [r[0] for r in rows], [float(r[1]) for r in rows]
        if ys:
            ax.plot(xs, ys, color="tab:blue", alpha=0.3 if smoothing > 0 else 1.0, lw=1)
            if smoothing > 0:
                ax.plot(xs, smooth(ys, smoothing), color="tab:blue", lw=2)
            last = smooth(ys, smoothing)[-1]
            ax.set_title(f"{name} = {last:.4g}" if not math.isnan(last) else name, fontsize=10)
        else:
            ax.set_title(f"{name} (no values yet)", fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


# --- behaviour: the calibration view --------------------------------------------------------------

CALIBRATION_BARS = (("accuracy", "accuracy", "tab:green"),
                    ("confident", "answers confidently", "tab:blue"),
                    ("hedged", "hedges", "tab:orange"),
                    ("abstain", 'abstains ("I do not know")', "tab:gray"))


def calibration_plot(table: Mapping[str, Mapping[str, float]], title: str | None = None) -> Figure:
    """Grouped bars: for each group of questions (e.g. known / unknown facts), how often the
    model is right, answers confidently, hedges and abstains.

    A calibrated model hedges or abstains where its accuracy is low; a model that copied its
    hedging hedges at the same rate everywhere. ``table`` maps a group name to its rates (as
    :func:`course_lib.evaluation.calibration_table` returns).
    """
    if not table:
        raise ValueError("table must have at least one group")
    groups = list(table)
    for g in groups:
        missing = [k for k, _, _ in CALIBRATION_BARS if k not in table[g]]
        if missing:
            raise ValueError(f"group {g!r} lacks the rates {missing}")
    fig = new_figure(figsize=(7.5, 3.4))
    ax = fig.subplots()
    width = 0.8 / len(CALIBRATION_BARS)
    for j, (key, label, color) in enumerate(CALIBRATION_BARS):
        xs = [i + (j - (len(CALIBRATION_BARS) - 1) / 2) * width for i in range(len(groups))]
        vals = [float(table[g][key]) for g in groups]
        bars = ax.bar(xs, vals, width=width, label=label, color=color)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], fontsize=8, padding=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("fraction of sampled responses")
    ax.legend(fontsize=8, ncols=2, loc="upper center")
    ax.set_title(title or "Accuracy vs hedging, by what the model can know")
    return fig


# --- three bands: answer, hedge or abstain by the model's own p (lesson 05) ---------------------

STYLE_COLORS = {"confident": "tab:blue", "hedged": "tab:orange", "abstain": "tab:gray"}


def _check_table(table: Mapping[tuple[str, bool], float]) -> None:
    missing = [(s, r) for s in STYLE_COLORS for r in (True, False) if (s, r) not in table]
    if missing:
        raise ValueError(f"table must give a reward for every (style, right) pair; missing "
                         f"{missing}")


def bands_plot(table: Mapping[tuple[str, bool], float], bands: tuple[float, float] | None = None,
               title: str | None = None) -> Figure:
    """Each style's expected reward ``p * right + (1 - p) * wrong`` against the probability p
    that the answer is right, with the band edges ``bands = (p1, p2)`` drawn."""
    _check_table(table)
    fig = new_figure(figsize=(6, 3.2))
    ax = fig.subplots()
    ps = [i / 100 for i in range(101)]
    for style, color in STYLE_COLORS.items():
        right, wrong = table[(style, True)], table[(style, False)]
        ax.plot(ps, [p * right + (1 - p) * wrong for p in ps], color=color, lw=2, label=style)
    for edge in bands or ():
        ax.axvline(edge, color="black", lw=0.8, ls="--")
        ax.annotate(f"{edge:.2f}", (edge, ax.get_ylim()[1]), ha="center", va="bottom",
                    fontsize=8)
    ax.set_xlabel("p = probability that the answer is right")
    ax.set_ylabel("expected reward")
    ax.legend(fontsize=8)
    ax.set_title(title or "Which style pays best, by how likely the answer is right")
    return fig


def band_scatter(p: Sequence[float], shares: Mapping[str, Sequence[float]],
                 bands: tuple[float, float], title: str | None = None) -> Figure:
    """One point per country and style: the model's own probability ``p`` of the true capital
    (x) against the share of its answers in each style (y), with the band edges drawn."""
    if not p or any(len(v) != len(p) for v in shares.values()):
        raise ValueError("p must be non-empty and every list of shares as long as p")
    fig = new_figure(figsize=(7, 3.4))
    ax = fig.subplots()
    for style, values in shares.items():
        ax.scatter(p, values, s=14, alpha=0.75, color=STYLE_COLORS.get(style), label=style)
    p1, p2 = bands
    for edge in bands:
        ax.axvline(edge, color="black", lw=0.8, ls="--")
    for x, label in ((p1 / 2, "abstain"), ((p1 + p2) / 2, "hedge"), ((p2 + 1) / 2, "confident")):
        ax.text(x, 1.06, label, ha="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.03, 1.12)
    ax.set_xlabel("the SFT model's own p(true capital), at the answer")
    ax.set_ylabel("share of the answers")
    ax.legend(fontsize=8, loc="center left")
    ax.set_title(title or "Held-out countries: the style the policy picks, by what it knows")
    return fig


def reliability_plot(points: Mapping[str, Mapping[str, float]], bands: tuple[float, float],
                     title: str | None = None) -> Figure:
    """A reliability diagram for stated confidence: for each model (``points`` maps its name to
    ``{"hedged": accuracy, "confident": accuracy}``), how often its hedged and its confident
    answers are right, against the range of accuracy each style is the best choice for."""
    p1, p2 = bands
    fig = new_figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    styles = ["hedged", "confident"]
    for x, (lo, hi) in enumerate(((p1, p2), (p2, 1.0))):
        ax.fill_between([x - 0.35, x + 0.35], lo, hi, color="tab:green", alpha=0.15,
                        label="where the style is best" if x == 0 else None)
    for j, (name, acc) in enumerate(points.items()):
        xs = [i + (j - (len(points) - 1) / 2) * 0.25 for i in range(len(styles))]
        ys = [acc.get(s, float("nan")) for s in styles]
        ax.plot(xs, ys, "o", ms=9, label=name)
        for x, y in zip(xs, ys):
            if not math.isnan(y):
                ax.annotate(f"{y:.2f}", (x, y), textcoords="offset points", xytext=(8, -3),
                            fontsize=8)
    ax.set_xticks(range(len(styles)), ["stated: hedged", "stated: confident"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy of those answers")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Does stated confidence mean anything?")
    return fig


# --- RL against a reward model: proxy and gold against KL (lesson 07) ---------------------------

RUN_COLORS = ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown")


def overoptimization_plot(runs: Mapping[str, Sequence[Mapping[str, float]]],
                          best_of_n: Sequence[Mapping[str, float]] | None = None,
                          window: int = 10, title: str | None = None) -> Figure:
    """Two panels against the KL from the reference policy: the proxy reward (what RL
    maximizes) and the gold reward (what the rater wanted), one line per run.

    ``runs`` maps a label (e.g. "beta = 0.01") to a history with ``kl``, ``proxy`` and ``gold``
    per step (as :func:`course_lib.rlhf.train_against_reward_model` returns); each curve is a
    trailing moving average over ``window`` steps (drawn from step ``window`` on), and a star
    marks where gold peaks. The KL axis is linear up to 1 nat and logarithmic beyond.
    ``best_of_n`` rows (``kl``, ``proxy``, ``gold``, ``n``, as :func:`course_lib.rlhf.best_of_n`
    returns) are drawn on the same axes.
    """
    from .rlhf import moving_average, peak_and_end

    if not runs and not best_of_n:
        raise ValueError("nothing to plot: give at least one run or best_of_n rows")
    fig = new_figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for j, (label, history) in enumerate(runs.items()):
        if not history:
            raise ValueError(f"run {label!r} has an empty history")
        color = RUN_COLORS[j % len(RUN_COLORS)]
        first = min(window, len(history)) - 1  # from here on, each point averages `window` steps
        kl = moving_average([h["kl"] for h in history], window)
        peak = int(peak_and_end(history, "gold", window, also=())["peak_step"])
        for ax, key in zip(axes, ("proxy", "gold")):
            ys = moving_average([h[key] for h in history], window)
            ax.plot(kl[first:], ys[first:], color=color, lw=1.8, label=label)
            ax.plot(kl[peak], ys[peak], marker="*", ms=12, color=color, mec="black", mew=0.6)
    if best_of_n:
        for ax, key in zip(axes, ("proxy", "gold")):
            ax.plot([r["kl"] for r in best_of_n], [r[key] for r in best_of_n], "k--o", ms=4,
                    lw=1.2, label="best-of-n")
            for r in best_of_n:
                ax.annotate(f"n={r['n']}", (r["kl"], r[key]), fontsize=7,
                            xytext=(3, -9), textcoords="offset points")
    axes[0].set_ylabel("proxy reward r_phi (reward-model units)")
    axes[1].set_ylabel("gold reward g (rater's units, -1.2 to +1)")
    for ax, what in zip(axes, ("what RL maximizes", "what the rater wanted")):
        ax.set_xscale("symlog", linthresh=1.0)  # linear up to 1 nat, logarithmic beyond
        ax.set_xlabel("KL(pi || pi_SFT) per response (nats, log scale above 1)")
        ax.set_title(what, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "Proxy vs gold reward as the policy moves away from the SFT model")
    return fig


# --- tables ---------------------------------------------------------------------------------------


def html_table(rows: Mapping[str, Mapping[str, object]], columns: Sequence[str] | None = None,
               digits: int = 2, index_name: str = "") -> str:
    """An HTML table: one row per key of ``rows``, one column per metric (floats rounded)."""
    if not rows:
        raise ValueError("rows must not be empty")
    columns = list(columns or dict.fromkeys(k for r in rows.values() for k in r))

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.{digits}f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in [index_name, *columns])
    body = "".join(
        "<tr><th style='text-align: left'>" + html.escape(str(name)) + "</th>"
        + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>"
        for name, r in rows.items())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
