"""MDPExplorer: step through a generation by hand, one action (token) at a time.

Shows the state s_t (prompt + tokens so far), a bar chart of the policy's most likely next
tokens pi(a | s_t), buttons to take one of them or sample one, undo, and the rewards as they
arrive (the terminal reward when the episode ends).
"""

from __future__ import annotations

import html

import torch

from ..mdp import Policy, State, TextMDP
from .common import display_widget_or_static


class MDPExplorer:
    """Walk through the MDP of ``env`` with ``policy`` from ``prompt``.

    Args:
        env: the :class:`~course_lib.mdp.TextMDP` (tokenizer, rewards, horizon).
        policy: ``policy(state)`` -> log pi(. | s), e.g. :func:`course_lib.mdp.model_policy`.
        prompt: the prompt x that starts the episode.
        top_k: how many of the most likely next tokens to show and offer as buttons (1-10).
        seed: seeds the "Sample" button.

    Methods a notebook or a test can call instead of clicking: :meth:`take` (the i-th most
    likely token), :meth:`take_token`, :meth:`sample_action`, :meth:`undo`, :meth:`reset`.
    """

    def __init__(self, env: TextMDP, policy: Policy, prompt: str, top_k: int = 5, seed: int = 0):
        if not isinstance(env, TextMDP):
            raise ValueError(f"env must be a TextMDP, got {type(env).__name__}")
        if not callable(policy):
            raise ValueError("policy must be a function state -> log-probabilities (V,)")
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a str, got {type(prompt).__name__}")
        if not isinstance(top_k, int) or not 1 <= top_k <= 10:
            raise ValueError(f"top_k must be an int from 1 to 10, got {top_k!r}")
        self.env, self.policy, self.prompt, self.top_k = env, policy, prompt, top_k
        self.generator = torch.Generator().manual_seed(seed)
        self._build()
        self.reset()

    # --- the episode -------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.states[-1]

    @property
    def done(self) -> bool:
        return self.state.done

    @property
    def return_(self) -> float:
        """G so far: the sum of the rewards received."""
        return float(sum(self.rewards))

    def reset(self, prompt: str | None = None) -> State:
        """Start again from ``prompt`` (default: the same prompt)."""
        if prompt is not None:
            if not isinstance(prompt, str):
                raise ValueError(f"prompt must be a str, got {type(prompt).__name__}")
            self.prompt = prompt
        self.states: list[State] = [self.env.reset(self.prompt)]
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.probs: list[float] = []
        self._refresh()
        return self.state

    def top_actions(self) -> list[tuple[int, str, float]]:
        """The ``top_k`` most likely next tokens: ``(token id, token, probability)``."""
        if self.done:
            return []
        probs = self.policy(self.state).double().exp()
        top = torch.topk(probs, min(self.top_k, probs.numel()))
        toks = self.env.tokenizer.convert_ids_to_tokens(top.indices.tolist())
        return [(int(i), t, float(p)) for i, t, p in zip(top.indices, toks, top.values)]

    def take_token(self, token_id: int) -> float:
        """Take action ``token_id``; return the reward r_t it earned."""
        if self.done:
            raise ValueError("the episode is over: undo() or reset() first")
        if isinstance(token_id, torch.Tensor):
            token_id = int(token_id)
        state, reward, _ = self.env.step_from(self.state, token_id)  # validates the id
        p = float(self.policy(self.state).double().exp()[token_id])
        self.states.append(state)
        self.actions.append(token_id)
        self.rewards.append(reward)
        self.probs.append(p)
        self._refresh()
        return reward

    def take(self, i: int) -> float:
        """Take the ``i``-th most likely next token (0 = the most likely)."""
        if self.done:
            raise ValueError("the episode is over: undo() or reset() first")
        top = self.top_actions()
        if not isinstance(i, int) or not 0 <= i < len(top):
            raise ValueError(f"i must be an int from 0 to {len(top) - 1}, got {i!r}")
        return self.take_token(top[i][0])

    def sample_action(self) -> float:
        """Draw the next token from pi(. | s_t), as generation does; return its reward."""
        if self.done:
            raise ValueError("the episode is over: undo() or reset() first")
        probs = self.policy(self.state).double().exp()
        return self.take_token(int(torch.multinomial(probs[None], 1, generator=self.generator)))

    def undo(self) -> State:
        """Take back the last action (nothing happens at the start of the episode)."""
        if len(self.states) > 1:
            self.states.pop()
            self.actions.pop()
            self.rewards.pop()
            self.probs.pop()
        self._refresh()
        return self.state

    # --- what is shown ----------------------------------------------------------------------
    def state_html(self) -> str:
        """The state as HTML: the prompt, then each action with its reward."""
        tok = self.env.tokenizer
        names = tok.convert_ids_to_tokens(self.actions)
        spans = "".join(
            f'<span title="p = {p:.3f}, r = {r:+.2f}" style="background: #dbeafe; padding: 1px '
            f'3px; margin: 1px; border-radius: 3px; font-family: monospace;">'
            f"{html.escape(n)}</span>" for n, p, r in zip(names, self.probs, self.rewards))
        lines = [f"<div><b>s<sub>{self.state.t}</sub></b> = "
                 f"<span style='color: #555; font-family: monospace'>"
                 f"{html.escape(self.prompt)}</span> {spans}</div>",
                 f"<div>t = {self.state.t} of at most {self.env.max_new_tokens} actions; "
                 f"rewards so far: {[round(r, 2) for r in self.rewards]}</div>"]
        if self.done:
            lines.append(f"<div style='color: #166534'><b>Episode over.</b> Last reward "
                         f"r = {self.rewards[-1]:+.2f}; return G = {self.return_:+.2f}; "
                         f"response: <code>{html.escape(self.state.text)}</code></div>")
        return "".join(lines)

    def figure(self):
        """A bar chart of the most likely next tokens (or the rewards, once the episode ends)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 2.6))
        top = self.top_actions()
        if top:
            ax.barh([t for _, t, _ in top][::-1], [p for _, _, p in top][::-1], color="#3b82f6")
            ax.set_xlim(0, 1)
            ax.set_xlabel(f"pi(a | s_{self.state.t})")
            ax.set_title(f"Next-token probabilities at step t = {self.state.t}")
        else:
            ax.bar(range(len(self.rewards)), self.rewards, color="#16a34a")
            ax.set_xlabel("step t")
            ax.set_ylabel("reward r_t")
            ax.set_title(f"Episode over: return G = {self.return_:+.2f}")
        fig.tight_layout()
        plt.close(fig)
        return fig

    # --- the widget ---------------------------------------------------------------------------
    def _build(self) -> None:
        import ipywidgets as w

        self.action_buttons = [w.Button(description="", layout=w.Layout(width="auto"))
                               for _ in range(self.top_k)]
        for i, b in enumerate(self.action_buttons):
            b.on_click(lambda _, i=i: self._click(lambda: self.take(i)))
        self.sample_button = w.Button(description="Sample", button_style="primary")
        self.undo_button = w.Button(description="Undo")
        self.reset_button = w.Button(description="Reset")
        self.sample_button.on_click(lambda _: self._click(self.sample_action))
        self.undo_button.on_click(lambda _: self._click(self.undo))
        self.reset_button.on_click(lambda _: self._click(self.reset))
        self.header = w.HTML()
        self.plot = w.Output()
        self.widget = w.VBox([self.header, self.plot, w.HBox(self.action_buttons),
                              w.HBox([self.sample_button, self.undo_button, self.reset_button])])

    def _click(self, action) -> None:
        try:
            action()
        except ValueError as err:  # e.g. clicking after the episode ended
            self.header.value = self.state_html() + f"<div><b>{html.escape(str(err))}</b></div>"

    def _refresh(self) -> None:
        from IPython.display import display

        self.header.value = self.state_html()
        top = self.top_actions()
        for i, b in enumerate(self.action_buttons):
            if i < len(top):
                b.description = f"{top[i][1]} ({top[i][2]:.2f})"
                b.disabled = False
            else:
                b.description, b.disabled = "-", True
        self.sample_button.disabled = self.done
        self.undo_button.disabled = len(self.states) == 1
        if not _static():
            self.plot.clear_output(wait=True)
            with self.plot:
                display(self.figure())

    def _ipython_display_(self) -> None:
        display_widget_or_static(self.widget, self.state_html, self.figure)


def _static() -> bool:
    from .common import static_mode

    return static_mode()
