"""ResponseViewer: sample responses to a prompt and see each token shaded by its probability."""

from __future__ import annotations

import html
from collections.abc import Sequence

import torch

from .. import validation as V
from ..formats import STYLES, style_rates
from ..rewards import RewardFn, call_reward_fn
from ..sampling import Rollout, next_token_logits, sample
from .common import display_widget_or_static

# --- shaded tokens ------------------------------------------------------------------------------

def tokens_html(tokens: Sequence[str], probs: Sequence[float]) -> str:
    """HTML of tokens on a background whose strength is the probability the model gave them.

    Pale = the model found the token unlikely; deep green = it was nearly certain.
    """
    if len(tokens) != len(probs):
        raise ValueError(f"tokens and probs must have the same length, "
                         f"got {len(tokens)} and {len(probs)}")
    spans = []
    for tok, p in zip(tokens, probs):
        if not 0.0 <= float(p) <= 1.0 + 1e-6:
            raise ValueError(f"probs must lie in [0, 1], got {p}")
        alpha = 0.08 + 0.77 * float(p)
        spans.append(
            f'<span title="p = {float(p):.3f}" style="background: rgba(46, 160, 67, {alpha:.2f});'
            f' padding: 1px 3px; margin: 1px; border-radius: 3px; font-family: monospace;">'
            f"{html.escape(tok)}</span>")
    return "".join(spans)


def rollout_rows(tokenizer, rollout: Rollout) -> list[tuple[list[str], list[float]]]:
    """Per response: its tokens (``<eos>`` shown as ⏎) and the probability of each."""
    rows = []
    for ids, mask, lps in zip(rollout.response_ids, rollout.response_mask, rollout.logprobs):
        n = int(mask.sum())
        toks = tokenizer.convert_ids_to_tokens(ids[:n].tolist())
        toks = ["⏎" if t == tokenizer.eos_token else t for t in toks]
        rows.append((toks, lps[:n].exp().tolist()))
    return rows


# --- ResponseViewer -------------------------------------------------------------------------------


class ResponseViewer:
    """Sample responses to a prompt and look at them token by token.

    Args:
        model, tokenizer: the policy to sample from.
        prompts: the prompts offered in the drop-down (the first is shown first); a student can
            also type their own.
        reward_fn: optional reward shown next to each response: any
            :data:`~course_lib.rewards.RewardFn`, ``reward_fn(prompts, responses) -> (B,)``
            (``course_lib.rewards.honesty_reward``, ...), called once per column of responses.
        temperature: initial sampling temperature (> 0).
        n_samples: initial number of responses per press of "Sample" (1-32).
        max_new_tokens: longest response.
        other: optional ``(model, label)`` of a second policy sampled on the same prompt, shown
            side by side (e.g. the SFT model next to the RL model).
        label: the name shown above the first policy's responses.
        seed: seeds the first draw, so a notebook shows the same responses every run.
    """

    def __init__(self, model, tokenizer, prompts: Sequence[str] | str,
                 reward_fn: RewardFn | None = None, temperature: float = 1.0, n_samples: int = 4,
                 max_new_tokens: int = 12, other: tuple | None = None, label: str = "policy",
                 seed: int = 0):
        if isinstance(prompts, str):
            prompts = [prompts]
        if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise ValueError("prompts must be a non-empty list of non-empty strings")
        if V.positive_number("temperature", temperature) > 5:
            raise ValueError(f"temperature must be in (0, 5], got {temperature!r}")
        if V.positive_int("n_samples", n_samples) > 32:
            raise ValueError(f"n_samples must be an int from 1 to 32, got {n_samples!r}")
        n_ctx = getattr(getattr(model, "config", None), "n_positions", 64)
        if V.positive_int("max_new_tokens", max_new_tokens) >= n_ctx:
            raise ValueError(f"max_new_tokens must be below the model's {n_ctx} positions, got "
                             f"{max_new_tokens}")
        V.non_negative_int("seed", seed)
        if reward_fn is not None and not callable(reward_fn):
            raise ValueError("reward_fn must be a function (prompts, responses) -> rewards (B,), "
                             "or None")
        if other is not None and (not isinstance(other, tuple) or len(other) != 2):
            raise ValueError("other must be a tuple (model, label), or None")
        self.policies = [(model, label)] + ([other] if other is not None else [])
        self.tokenizer, self.reward_fn = tokenizer, reward_fn
        self.prompts, self.max_new_tokens = list(prompts), max_new_tokens
        self.generator = torch.Generator().manual_seed(seed)
        self.n_presses = 0
        self._build(temperature, n_samples)

    # the widget parts ---------------------------------------------------------------------------
    def _build(self, temperature: float, n_samples: int) -> None:
        import ipywidgets as w

        self.prompt = w.Combobox(value=self.prompts[0], options=self.prompts,
                                 description="prompt", ensure_option=False,
                                 layout=w.Layout(width="95%"))
        self.temperature = w.FloatSlider(value=float(temperature), min=0.1, max=2.0, step=0.1,
                                         description="temperature", continuous_update=False)
        self.n_samples = w.IntSlider(value=n_samples, min=1, max=32, description="samples",
                                     continuous_update=False)
        self.button = w.Button(description="Sample", button_style="primary", icon="random")
        self.output = w.HTML()
        self.button.on_click(lambda _: self.resample())
        self.widget = w.VBox([self.prompt, w.HBox([self.temperature, self.n_samples,
                                                   self.button]), self.output])
        self.resample()

    def resample(self) -> str:
        """Draw fresh responses for the current prompt and settings; return the HTML shown."""
        prompt = self.prompt.value.strip()
        if not prompt:
            self.output.value = "<b>Type a prompt first.</b>"
            return self.output.value
        self.n_presses += 1
        self.error: str | None = None
        columns = []
        for model, label in self.policies:
            try:
                rollout = sample(model, self.tokenizer, [prompt] * self.n_samples.value,
                                 max_new_tokens=self.max_new_tokens,
                                 temperature=self.temperature.value, generator=self.generator)
            except ValueError as err:  # e.g. a prompt longer than the model can read
                return self._show_error("Cannot sample", err)
            try:
                columns.append(self._column(label, prompt, rollout))
            except Exception as err:  # the student's reward function, on a typed prompt
                return self._show_error("The reward function failed on this prompt", err)
        self.output.value = ('<div style="display: flex; flex-wrap: wrap; gap: 24px;">'
                             + "".join(columns) + "</div>")
        return self.output.value

    def _show_error(self, what: str, err: Exception) -> str:
        """Replace the responses on screen by the error (a button's error would otherwise
        go only to the log, under old responses)."""
        self.error = f"{what}: {type(err).__name__}: {err}"
        self.output.value = (f"<b style='color: #b00'>{html.escape(what)}:</b> "
                             f"{html.escape(type(err).__name__)}: {html.escape(str(err))}")
        return self.output.value

    def _column(self, label: str, prompt: str, rollout: Rollout) -> str:
        lines = [f"<h4 style='margin: 4px 0'>{html.escape(label)}</h4>",
                 f"<div style='color: #555'>{html.escape(prompt)}</div><ol>"]
        rewards = self._rewards(prompt, rollout.texts)
        for i, (toks, probs) in enumerate(rollout_rows(self.tokenizer, rollout)):
            extra = f" <b>r = {rewards[i]:+.2f}</b>" if rewards else ""
            lines.append(f"<li>{tokens_html(toks, probs)}{extra}</li>")
        lines.append("</ol>")
        rates = style_rates(rollout.texts)
        summary = ", ".join(f"{s} {rates[s]:.0%}" for s in STYLES if rates[s])
        if rewards:
            summary += f"; mean reward {sum(rewards) / len(rewards):+.2f}"
        lines.append(f"<div><i>{summary}</i></div>")
        return "<div>" + "".join(lines) + "</div>"

    def _rewards(self, prompt: str, texts: list[str]) -> list[float]:
        """The reward of each response ([] without a reward function)."""
        if self.reward_fn is None:
            return []
        return call_reward_fn(self.reward_fn, [prompt] * len(texts), texts).tolist()

    def _ipython_display_(self) -> None:
        display_widget_or_static(self.widget, lambda: self.output.value)


def probability_table(model, tokenizer, prompt: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` most likely next tokens after ``prompt`` with their probabilities."""
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    probs = next_token_logits(model, tokenizer, prompt)[0].softmax(-1)  # (V,)
    top = torch.topk(probs, min(k, probs.numel()))
    return [(tokenizer.convert_ids_to_tokens(int(i)), float(p))
            for p, i in zip(top.values, top.indices)]
