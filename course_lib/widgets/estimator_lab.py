"""EstimatorLab: how the REINFORCE estimate scatters around the exact gradient.

For the tiny enumerable policy, draw many independent batches of n samples, compute the
REINFORCE estimate of each batch, and show the histogram of one number per estimate (its
projection on the exact gradient's direction, or one coordinate) next to the exact value.
Move the number of samples and the baseline and watch the spread (the variance) and the centre
(the bias).
"""

from __future__ import annotations

import html

import torch

from ..mdp import TextMDP, TinyPolicy, enumerate_sequences, exact_gradient, step_rewards
from ..mdp import token_scores as compute_token_scores
from ..policy_gradient import reinforce_estimates
from .common import display_widget_or_static

BASELINE_CHOICES = (("no baseline", "none"), ("batch mean", "mean"), ("leave-one-out", "loo"))
MAX_SAMPLES = 256


class EstimatorLab:
    """Histogram of REINFORCE estimates vs the exact gradient of a :class:`TinyPolicy`.

    Args:
        policy, env, prompt: the tiny policy and its task (see :func:`course_lib.mdp.tiny_task`).
        n_samples: samples per estimate (the batch size n), 1-256.
        baseline: ``"none"``, ``"mean"`` or ``"loo"``.
        reward_to_go: weight each token by the rewards after it (needs per-step rewards to
            make a difference).
        coordinate: ``None`` shows the projection of each estimate on the exact gradient's
            direction; an int shows that coordinate of the flattened theta.
        n_batches: how many estimates the histogram holds (fewer for large n: at most 200,000
            samples per redraw).
        seed: seeds the samples, so a notebook shows the same histogram every run.
    """

    def __init__(self, policy: TinyPolicy, env: TextMDP, prompt: str = "", n_samples: int = 16,
                 baseline: str = "none", reward_to_go: bool = False, coordinate: int | None = None,
                 n_batches: int = 2000, seed: int = 0):
        if not isinstance(policy, TinyPolicy):
            raise ValueError(f"policy must be a TinyPolicy, got {type(policy).__name__}")
        if not isinstance(env, TextMDP):
            raise ValueError(f"env must be a TextMDP, got {type(env).__name__}")
        P = policy.theta.numel()
        if coordinate is not None and (not isinstance(coordinate, int) or not 0 <= coordinate < P):
            raise ValueError(f"coordinate must be None or an int from 0 to {P - 1}, "
                             f"got {coordinate!r}")
        if not isinstance(n_batches, int) or not 10 <= n_batches <= 20_000:
            raise ValueError(f"n_batches must be an int from 10 to 20000, got {n_batches!r}")
        self._check(n_samples, baseline)
        self.policy, self.env, self.prompt = policy, env, prompt
        self.coordinate, self.n_batches, self.seed = coordinate, n_batches, seed
        # everything the policy can say, its step rewards and per-token scores, computed once
        self.ids, self.mask = enumerate_sequences(policy)
        self.steps = step_rewards(env, prompt, self.ids, self.mask)  # (N, H)
        self.scores = compute_token_scores(policy, self.ids, self.mask)  # (N, H, P)
        self.exact = exact_gradient(policy, env, prompt).flatten()  # (P,)
        self.direction = (self.exact / self.exact.norm() if coordinate is None
                          else torch.nn.functional.one_hot(torch.tensor(coordinate), P).double())
        self._codes = self._code(self.ids, self.mask)
        self._order = torch.argsort(self._codes)
        self.stats: dict[str, float] = {}
        self._suspend = False
        self._build(n_samples, baseline, reward_to_go)

    # --- the estimates --------------------------------------------------------------------
    @staticmethod
    def _check(n_samples: int, baseline: str) -> None:
        if not isinstance(n_samples, int) or not 1 <= n_samples <= MAX_SAMPLES:
            raise ValueError(f"n_samples must be an int from 1 to {MAX_SAMPLES}, "
                             f"got {n_samples!r}")
        if baseline not in [v for _, v in BASELINE_CHOICES]:
            raise ValueError(f"baseline must be 'none', 'mean' or 'loo', got {baseline!r}")
        if baseline == "loo" and n_samples < 2:
            raise ValueError("the leave-one-out baseline needs n_samples >= 2")

    def _code(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        base = self.policy.n_actions + 1
        weights = base ** torch.arange(ids.shape[1])
        return ((ids + 1) * mask.long() * weights).sum(1)  # a unique number per response

    def estimates(self, n_samples: int, baseline: str = "none", reward_to_go: bool = False,
                  seed: int | None = None) -> torch.Tensor:
        """Projections of many independent REINFORCE estimates, each from ``n_samples``: (M,)."""
        self._check(n_samples, baseline)
        M = min(self.n_batches, max(50, 200_000 // n_samples))
        g = torch.Generator().manual_seed(self.seed if seed is None else seed)
        ids, mask = self.policy.sample(M * n_samples, g)
        codes = self._code(ids, mask)
        sorted_codes = self._codes[self._order]
        index = self._order[torch.searchsorted(sorted_codes, codes)]  # row of the enumeration
        est = reinforce_estimates(self.scores[index], self.steps[index], self.mask[index],
                                  n_samples, None if baseline == "none" else baseline,
                                  reward_to_go)  # (M, P)
        return est @ self.direction  # (M,)

    @property
    def exact_value(self) -> float:
        """The exact gradient, projected the same way as the estimates."""
        return float(self.exact @ self.direction)

    def update(self) -> dict[str, float]:
        """Recompute the estimates for the current controls; return (and show) their stats."""
        n, baseline = self.n_slider.value, self.baseline.value
        try:
            values = self.estimates(n, baseline, self.to_go.value)
        except ValueError as err:
            self.summary.value = f"<b>{html.escape(str(err))}</b>"
            return {}
        self.values = values
        mean, std = float(values.mean()), float(values.std())
        se = std / len(values) ** 0.5
        self.stats = dict(n_samples=n, mean=mean, std=std, variance=std ** 2, se=se,
                          exact=self.exact_value, bias=mean - self.exact_value,
                          n_estimates=len(values))
        what = "projection on the exact gradient" if self.coordinate is None else (
            f"coordinate {self.coordinate}")
        self.summary.value = (
            f"{len(values)} estimates of the {what}, each from n = {n} samples: mean "
            f"{mean:+.4f} &plusmn; {se:.4f}, exact {self.exact_value:+.4f}; spread (std) "
            f"<b>{std:.4f}</b>, variance {std ** 2:.5f}")
        self._redraw()
        return self.stats

    # --- what is shown -------------------------------------------------------------------------
    def figure(self):
        """The histogram of the current estimates with the exact value."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 3))
        if self.stats:
            ax.hist(self.values.numpy(), bins=50, color="#93c5fd", edgecolor="#3b82f6")
            ax.axvline(self.exact_value, color="black", lw=2, label="exact gradient")
            ax.axvline(self.stats["mean"], color="#dc2626", ls="--", lw=1.5,
                       label="mean of the estimates")
            ax.legend(loc="upper right", fontsize=8)
        labels = dict((v, k) for k, v in BASELINE_CHOICES)
        ax.set_title(f"REINFORCE estimates, n = {self.n_slider.value}, "
                     f"{labels[self.baseline.value]}"
                     + (", reward-to-go" if self.to_go.value else ""))
        ax.set_xlabel("estimate (projected)")
        ax.set_ylabel("count")
        fig.tight_layout()
        plt.close(fig)
        return fig

    def _build(self, n_samples: int, baseline: str, reward_to_go: bool) -> None:
        import ipywidgets as w

        self.n_slider = w.IntSlider(value=n_samples, min=1, max=MAX_SAMPLES,
                                    description="samples n", continuous_update=False)
        self.baseline = w.Dropdown(options=list(BASELINE_CHOICES), value=baseline,
                                   description="baseline")
        self.to_go = w.Checkbox(value=bool(reward_to_go), description="reward-to-go")
        self.summary = w.HTML()
        self.plot = w.Output()
        for control in (self.n_slider, self.baseline, self.to_go):
            control.observe(lambda _: None if self._suspend else self.update(), names="value")
        self.widget = w.VBox([w.HBox([self.n_slider, self.baseline, self.to_go]),
                              self.summary, self.plot])
        self.update()

    def set(self, n_samples: int | None = None, baseline: str | None = None,
            reward_to_go: bool | None = None) -> dict[str, float]:
        """Move the controls as a student would (validated); return the new stats."""
        self._check(self.n_slider.value if n_samples is None else n_samples,
                    self.baseline.value if baseline is None else baseline)
        self._suspend = True  # one update for all the moves, not one per control
        try:
            if n_samples is not None:
                self.n_slider.value = n_samples
            if baseline is not None:
                self.baseline.value = baseline
            if reward_to_go is not None:
                self.to_go.value = bool(reward_to_go)
        finally:
            self._suspend = False
        return self.update()

    def _redraw(self) -> None:
        from IPython.display import display

        from .common import static_mode

        if static_mode():
            return
        self.plot.clear_output(wait=True)
        with self.plot:
            display(self.figure())

    def _ipython_display_(self) -> None:
        display_widget_or_static(self.widget, lambda: self.summary.value, self.figure)
