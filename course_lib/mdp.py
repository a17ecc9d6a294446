"""Generation as a Markov decision process, and a policy small enough to enumerate.

The essay: *"at each step the model is in a state - the prompt plus the tokens generated so far -
and it chooses an action, the next token, from its vocabulary. The state evolves
deterministically by appending that token, and a reward arrives, usually at the end [...] (or at
each step, if you have a process reward model)."*

- :class:`TextMDP`: that MDP over any tokenizer: ``reset(prompt) -> state``,
  ``step(action) -> (state, reward, done)``, a terminal reward r(x, y) and an optional per-step
  (process) reward.
- :func:`model_policy`: a language model as a policy pi_theta(a | s); :func:`rollout` runs any
  policy in the MDP.
- :class:`TinyPolicy`: a bigram policy over three words and ``<eos>`` with a horizon of three,
  so small that every response it can produce can be listed: :func:`enumerate_sequences`,
  :func:`step_rewards`, :func:`exact_objective` (J(theta) as a differentiable sum, so autograd
  gives the exact gradient) and :func:`exact_gradient`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import WordLevel

from .sampling import draw

# --- the MDP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """s_t = (x, y_<t): the prompt and the response tokens generated so far."""

    prompt: str  # x, as text
    prompt_ids: tuple[int, ...]  # x, as token ids (with <bos>)
    response_ids: tuple[int, ...] = ()  # y_<t, the actions taken so far
    text: str = ""  # y_<t decoded (without special tokens)
    done: bool = False  # True once <eos> was taken or the horizon reached

    @property
    def ids(self) -> tuple[int, ...]:
        """Every token of the state: prompt then response, what the policy reads."""
        return self.prompt_ids + self.response_ids

    @property
    def t(self) -> int:
        """The time step: how many actions were taken."""
        return len(self.response_ids)


TerminalReward = Callable[[str, str], float]  # r(x, y): (prompt, response text) -> float
StepReward = Callable[[State, int, State], float]  # (s_t, a_t, s_{t+1}) -> float
Policy = Callable[[State], torch.Tensor]  # s -> log pi(. | s), shape (V,)


class TextMDP:
    """Text generation as an MDP: state = prompt + tokens so far, action = next token.

    Args:
        tokenizer: turns the prompt into token ids and responses back into text.
        reward_fn: the terminal reward r(x, y), given when the episode ends.
        step_reward_fn: an optional process reward, given after every step.
        max_new_tokens: the horizon H: an episode ends after H actions, or at ``<eos>``.

    The reward after action a_t is ``step_reward_fn(s_t, a_t, s_{t+1})`` (if any) plus, on the
    last step only, ``reward_fn(x, y)``. The return G = sum_t r_t.
    """

    def __init__(self, tokenizer, reward_fn: TerminalReward | None = None,
                 step_reward_fn: StepReward | None = None, max_new_tokens: int = 16):
        if reward_fn is not None and not callable(reward_fn):
            raise ValueError("reward_fn must be a function (prompt, response) -> float, or None")
        if step_reward_fn is not None and not callable(step_reward_fn):
            raise ValueError("step_reward_fn must be a function (state, action, next_state) -> "
                             "float, or None")
        if not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        self.tokenizer = tokenizer
        self.reward_fn, self.step_reward_fn = reward_fn, step_reward_fn
        self.max_new_tokens = max_new_tokens
        self.eos_id: int = tokenizer.eos_token_id
        self.vocab_size: int = len(tokenizer)
        self.state: State | None = None

    def decode(self, response_ids: Sequence[int]) -> str:
        """The text of a response (special tokens such as ``<eos>`` dropped)."""
        return self.tokenizer.decode(list(response_ids), skip_special_tokens=True)

    def reset(self, prompt: str) -> State:
        """Start an episode: s_0 = the prompt x."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a str, got {type(prompt).__name__}")
        ids = tuple(self.tokenizer(prompt)["input_ids"])
        self.state = State(prompt=prompt, prompt_ids=ids)
        return self.state

    def transition(self, state: State, action: int) -> State:
        """s_{t+1} = s_t + [a_t]: deterministic, append the token."""
        response = state.response_ids + (action,)
        done = action == self.eos_id or len(response) >= self.max_new_tokens
        return State(prompt=state.prompt, prompt_ids=state.prompt_ids, response_ids=response,
                     text=self.decode(response), done=done)

    def reward(self, state: State, action: int, next_state: State) -> float:
        """r_t: the process reward of this step, plus the terminal reward if the episode ends."""
        r = 0.0
        if self.step_reward_fn is not None:
            r += float(self.step_reward_fn(state, action, next_state))
        if next_state.done and self.reward_fn is not None:
            r += float(self.reward_fn(next_state.prompt, next_state.text))
        return r

    def step_from(self, state: State, action: int) -> tuple[State, float, bool]:
        """One step from ``state`` (a pure function): ``(next_state, reward, done)``."""
        if not isinstance(state, State):
            raise ValueError(f"state must be a State, got {type(state).__name__}")
        if state.done:
            raise ValueError("the episode is over: call reset(prompt) to start a new one")
        if isinstance(action, torch.Tensor):
            action = int(action)
        if not isinstance(action, int) or not 0 <= action < self.vocab_size:
            raise ValueError(f"action must be a token id in [0, {self.vocab_size}), got {action!r}")
        next_state = self.transition(state, action)
        return next_state, self.reward(state, action, next_state), next_state.done

    def step(self, action: int) -> tuple[State, float, bool]:
        """Take ``action`` in the current episode: ``(next_state, reward, done)``."""
        if self.state is None:
            raise ValueError("call reset(prompt) before step(action)")
        self.state, reward, done = self.step_from(self.state, action)
        return self.state, reward, done


def model_policy(model, temperature: float = 1.0) -> Policy:
    """The language model as a policy: ``policy(state)`` -> log pi_theta(. | s), shape (V,).

    One forward pass over the whole state (no cache): the same distribution
    :func:`course_lib.sampling.sample` draws from.
    """
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    device = next(model.parameters()).device

    @torch.no_grad()
    def policy(state: State) -> torch.Tensor:
        ids = torch.tensor([state.ids], device=device)  # (1, T)
        logits = model(input_ids=ids).logits[0, -1].float() / temperature  # (V,)
        return F.log_softmax(logits, dim=-1).cpu()

    return policy


@dataclass
class Trajectory:
    """tau = (s_0, a_0, r_0, s_1, a_1, r_1, ..., s_T): one episode."""

    states: list[State]  # s_0 ... s_T (T + 1 states)
    actions: list[int] = field(default_factory=list)  # a_0 ... a_{T-1}
    rewards: list[float] = field(default_factory=list)  # r_0 ... r_{T-1}
    logprobs: list[float] = field(default_factory=list)  # log pi(a_t | s_t)

    @property
    def return_(self) -> float:
        """G = sum_t r_t (undiscounted: episodes are short)."""
        return float(sum(self.rewards))

    @property
    def text(self) -> str:
        return self.states[-1].text


def rollout(env: TextMDP, policy: Policy, prompt: str, generator: torch.Generator | None = None,
            greedy: bool = False) -> Trajectory:
    """Run ``policy`` in ``env`` from ``prompt`` to the end of the episode."""
    state = env.reset(prompt)
    traj = Trajectory(states=[state])
    while not state.done:
        logp = policy(state)  # (V,)
        if greedy:
            action = int(logp.argmax())
        else:
            action = int(draw(logp.exp()[None], generator))  # as sample() draws a token
        state, reward, _ = env.step(action)
        traj.states.append(state)
        traj.actions.append(action)
        traj.rewards.append(reward)
        traj.logprobs.append(float(logp[action]))
    return traj


# --- a policy small enough to enumerate ---------------------------------------------------------

TINY_WORDS = ("a", "b", "c")


def tiny_tokenizer(words: Sequence[str] = TINY_WORDS):
    """A word-level tokenizer whose ids 0..K-2 are ``words`` and id K-1 is ``<eos>``.

    ``<bos>``, ``<pad>`` and ``<unk>`` come after: the tiny policy never takes them.
    """
    from .tokenizer import wrap

    vocab = {w: i for i, w in enumerate(list(words) + ["<eos>", "<bos>", "<pad>", "<unk>"])}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return wrap(tok)


class TinyPolicy(torch.nn.Module):
    """A bigram policy pi_theta(y_t | y_{t-1}) = softmax(theta[y_{t-1}]) over a few words.

    Actions are ids 0..K-1 (the words, then ``<eos>``), so K = len(words) + 1. ``theta`` has one
    row of K logits per context: row j < K-1 after word j, row K-1 at the start. An episode
    ends at ``<eos>`` or after ``horizon`` tokens: with 3 words and a horizon of 3 the policy can
    say exactly 40 different things.
    """

    def __init__(self, words: Sequence[str] = TINY_WORDS, horizon: int = 3, seed: int = 0,
                 scale: float = 1.0):
        super().__init__()
        if not words or len(set(words)) != len(words):
            raise ValueError(f"words must be distinct and non-empty, got {words!r}")
        if not isinstance(horizon, int) or not 1 <= horizon <= 6:
            raise ValueError(f"horizon must be an int from 1 to 6, got {horizon!r}")
        self.words, self.horizon = tuple(words), horizon
        self.n_actions = len(words) + 1  # K
        self.eos_id = self.n_actions - 1
        self.tokenizer = tiny_tokenizer(words)
        g = torch.Generator().manual_seed(seed)
        self.theta = torch.nn.Parameter(  # (K, K): context -> logits over actions
            scale * torch.randn(self.n_actions, self.n_actions, generator=g, dtype=torch.float64))

    def contexts(self, ids: torch.Tensor) -> torch.Tensor:
        """Row of theta used at each position: the previous word, or the start row."""
        start = torch.full_like(ids[:, :1], self.n_actions - 1)
        return torch.cat([start, ids[:, :-1]], dim=1)  # (N, H)

    def token_logprobs(self, ids: torch.Tensor, mask: torch.Tensor,
                       theta: torch.Tensor | None = None) -> torch.Tensor:
        """log pi_theta(y_t | y_{t-1}) of each token: (N, H), 0 on padding. Differentiable."""
        theta = self.theta if theta is None else theta
        logp = F.log_softmax(theta, dim=-1)[self.contexts(ids).clamp(max=self.n_actions - 1),
                                            ids.clamp(max=self.n_actions - 1)]  # (N, H)
        return logp * mask

    def sequence_logprobs(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log pi_theta(y | x) = sum_t log pi_theta(y_t | y_{t-1}): (N,)."""
        return self.token_logprobs(ids, mask).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` responses at once: ids (n, H) padded with ``<eos>``, mask (n, H)."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive int, got {n!r}")
        probs = F.softmax(self.theta.detach(), dim=-1)  # (K, K)
        ids = torch.full((n, self.horizon), self.eos_id, dtype=torch.long)
        mask = torch.zeros(n, self.horizon)
        ctx = torch.full((n,), self.n_actions - 1, dtype=torch.long)
        alive = torch.ones(n, dtype=torch.bool)
        for t in range(self.horizon):
            a = torch.multinomial(probs[ctx], 1, generator=generator).squeeze(1)  # (n,)
            ids[:, t] = torch.where(alive, a, ids[:, t])
            mask[:, t] = alive.float()
            alive = alive & (a != self.eos_id)
            ctx = a.clamp(max=self.n_actions - 1)
        return ids, mask

    def forward(self, state: State) -> torch.Tensor:
        """The policy in a :class:`TextMDP`: log pi(. | s) over the tokenizer's vocabulary."""
        prev = state.response_ids[-1] if state.response_ids else self.n_actions - 1
        logp = torch.full((len(self.tokenizer),), float("-inf"), dtype=torch.float64)
        logp[:self.n_actions] = F.log_softmax(self.theta.detach()[prev], dim=-1)
        return logp

    def texts(self, ids: torch.Tensor, mask: torch.Tensor) -> list[str]:
        """Each response as words, ``<eos>`` included: e.g. ``"a c <eos>"``."""
        names = list(self.words) + ["<eos>"]
        return [" ".join(names[int(i)] for i, m in zip(row, mrow) if m > 0)
                for row, mrow in zip(ids, mask)]

    def make_env(self, reward_fn: TerminalReward | None = None,
                 step_reward_fn: StepReward | None = None) -> TextMDP:
        """The :class:`TextMDP` this policy acts in (its tokenizer, its horizon)."""
        return TextMDP(self.tokenizer, reward_fn, step_reward_fn, max_new_tokens=self.horizon)


MAX_ENUMERATED = 200_000  # the most responses enumerate_sequences lists


def enumerate_sequences(policy: TinyPolicy) -> tuple[torch.Tensor, torch.Tensor]:
    """Every response the policy can produce: ids (N, H) padded with ``<eos>``, mask (N, H).

    Responses that end with ``<eos>`` at step 1..H, and those cut off at the horizon H.
    """
    K, H, eos = policy.n_actions, policy.horizon, policy.eos_id
    # <eos> after t = 0..H-1 words, or H words cut at the horizon
    n = sum((K - 1) ** t for t in range(H)) + (K - 1) ** H
    if n > MAX_ENUMERATED:
        raise ValueError(
            f"the policy can say {n:,} different things ({K - 1} words, horizon {H}): too many "
            f"to enumerate (at most {MAX_ENUMERATED:,}); use fewer words or a shorter horizon, "
            "or estimate by sampling")
    rows: list[list[int]] = []

    def extend(prefix: list[int]) -> None:
        for a in range(K):
            seq = prefix + [a]
            if a == eos or len(seq) == H:
                rows.append(seq)
            else:
                extend(seq)

    extend([])
    ids = torch.full((len(rows), H), eos, dtype=torch.long)
    mask = torch.zeros(len(rows), H)
    for i, seq in enumerate(rows):
        ids[i, :len(seq)] = torch.tensor(seq)
        mask[i, :len(seq)] = 1.0
    return ids, mask


def step_rewards(env: TextMDP, prompt: str, ids: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
    """The reward r_t of every step of every response, by stepping ``env``: (N, H), 0 on padding.

    Each distinct response is stepped once (sampled batches repeat responses).
    """
    if ids.shape != mask.shape or ids.dim() != 2:
        raise ValueError(f"ids and mask must both be (N, H), got {tuple(ids.shape)} and "
                         f"{tuple(mask.shape)}")
    keyed = torch.where(mask > 0, ids, torch.full_like(ids, -1))
    unique, inverse = torch.unique(keyed, dim=0, return_inverse=True)
    out = torch.zeros(unique.shape[0], ids.shape[1], dtype=torch.float64)
    for u, row in enumerate(unique.tolist()):
        state = env.reset(prompt)
        for t, a in enumerate(row):
            if a < 0:
                break
            state, r, done = env.step_from(state, a)
            out[u, t] = r
            if done:
                break
    return out[inverse]


def exact_objective(policy: TinyPolicy, env: TextMDP, prompt: str = "") -> torch.Tensor:
    """J(theta) = sum_y pi_theta(y | x) G(y), over every response y: a differentiable scalar.

    G(y) is the return (the sum of the step rewards, terminal reward included). Calling
    ``.backward()`` on it gives the exact gradient of J.
    """
    ids, mask = enumerate_sequences(policy)
    returns = step_rewards(env, prompt, ids, mask).sum(dim=1)  # (N,)
    probs = policy.sequence_logprobs(ids, mask).exp()  # (N,)
    return (probs * returns).sum()


def exact_gradient(policy: TinyPolicy, env: TextMDP, prompt: str = "") -> torch.Tensor:
    """grad_theta J(theta), by autograd through :func:`exact_objective`: shape of theta."""
    (grad,) = torch.autograd.grad(exact_objective(policy, env, prompt), policy.theta)
    return grad


def token_scores(policy: TinyPolicy, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """grad_theta log pi_theta(y_t | y_{t-1}) of every token, flattened: (N, H, P), 0 on padding.

    Forward-mode autograd over the P = K * K parameters (cheap: P is tiny).
    """
    theta = policy.theta.detach()
    jac = torch.func.jacfwd(lambda th: policy.token_logprobs(ids, mask, th))(theta)
    return jac.reshape(ids.shape[0], ids.shape[1], -1)  # (N, H, P)


def monte_carlo_objective(policy: TinyPolicy, env: TextMDP, n: int, prompt: str = "",
                          generator: torch.Generator | None = None) -> tuple[float, float]:
    """J estimated from ``n`` of the policy's own samples: ``(mean return, standard error)``."""
    ids, mask = policy.sample(n, generator)
    returns = step_rewards(env, prompt, ids, mask).sum(dim=1)
    return float(returns.mean()), float(returns.std() / n ** 0.5)


# --- the tiny task of lessons 03-04 ------------------------------------------------------------

TINY_FINISH_BONUS = 2.0  # terminal reward for ending the response with <eos> within the horizon


def tiny_task(policy: TinyPolicy, per_step: bool = False) -> TextMDP:
    """The tiny policy's task: *say "a" as often as you can, and finish your sentence*.

    The return is G(y) = (number of "a" in y) + 2 [y ends with <eos>]. With ``per_step=False``
    all of it arrives at the end, as the terminal reward r(x, y); with ``per_step=True`` each
    "a" pays +1 when it is said (a process reward) and only the finishing bonus waits for the end.
    Both give every response the same return, so the same J(theta).
    """
    word_a = policy.words[0]

    def terminal(prompt: str, response: str) -> float:
        finished = len(response.split()) < policy.horizon  # stopped by <eos> before the horizon
        bonus = TINY_FINISH_BONUS if finished else 0.0
        return bonus + (0.0 if per_step else float(response.split().count(word_a)))

    def process(state: State, action: int, next_state: State) -> float:
        return 1.0 if action == 0 else 0.0

    return policy.make_env(terminal, process if per_step else None)
