"""Checks of one step of the text MDP and of J(theta) by enumeration (exercises 3.1 and 3.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mdp
from .common import ExerciseError, passed, run_cases

# --- Exercise 3.1: one step of the MDP ----------------------------------------------------------


def _as_tensor(out) -> torch.Tensor:
    """``(next_state, reward, done)`` as one comparable vector: [reward, done, *response ids]."""
    if not isinstance(out, tuple) or len(out) != 3:
        raise ExerciseError("Exercise 3.1: step must return a tuple (next_state, reward, done), "
                            f"got {type(out).__name__}")
    state, reward, done = out
    if not isinstance(state, mdp.State):
        raise ExerciseError("Exercise 3.1: the first element must be the next State, got "
                            f"{type(state).__name__}")
    return torch.tensor([float(reward), float(bool(done)), float(state.done),
                         *map(float, state.response_ids)], dtype=torch.float64)


def _variant(env: mdp.TextMDP, state: mdp.State, action: int, *, terminal_always: bool = False,
             no_process: bool = False, no_terminal: bool = False, eos_ends: bool = True,
             horizon_shift: int = 0, append: bool = True) -> torch.Tensor:
    """The step a student gets with one known mistake (all flags off: the right step)."""
    response = state.response_ids + ((action,) if append else ())
    horizon = env.max_new_tokens + horizon_shift
    done = (eos_ends and action == env.eos_id) or len(response) >= horizon
    nxt = mdp.State(state.prompt, state.prompt_ids, response, env.decode(response), done)
    r = 0.0
    if env.step_reward_fn is not None and not no_process:
        r += env.step_reward_fn(state, action, nxt)
    if env.reward_fn is not None and not no_terminal and (done or terminal_always):
        r += env.reward_fn(nxt.prompt, nxt.text)
    return _as_tensor((nxt, r, done))


def check_step(fn: Callable) -> None:
    """Exercise 3.1: ``fn(env, state, action)`` -> ``(next_state, reward, done)``."""
    policy = mdp.TinyPolicy(seed=0)
    cases = []
    for per_step in (True, False):
        env = mdp.tiny_task(policy, per_step=per_step)
        s0 = env.reset("")
        s1 = env.transition(s0, 0)  # "a"
        s2 = env.transition(s1, 1)  # "a b"
        for state, action in ((s0, 0), (s0, env.eos_id), (s1, 0), (s1, 2), (s2, 0),
                              (s2, env.eos_id), (s1, env.eos_id)):
            mistakes = {
                "gave the terminal reward r(x, y) at every step (it comes only when the "
                "episode ends)": _variant(env, state, action, terminal_always=True),
                "forgot the terminal reward r(x, y) when the episode ends":
                    _variant(env, state, action, no_terminal=True),
                "forgot the process (per-step) reward": _variant(env, state, action,
                                                                 no_process=True),
                "did not end the episode at <eos>": _variant(env, state, action, eos_ends=False),
                "ended the episode one step too late (it ends after max_new_tokens actions)":
                    _variant(env, state, action, horizon_shift=1),
                "ended the episode one step too early (it ends after max_new_tokens actions)":
                    _variant(env, state, action, horizon_shift=-1),
                "did not append the action to the state (the transition appends the token)":
                    _variant(env, state, action, append=False),
            }
            cases.append(((env, state, action), _variant(env, state, action), mistakes))
    run_cases("Exercise 3.1", lambda *args: _as_tensor(fn(*args)), cases)
    passed("Exercise 3.1", "next state, reward and done match TextMDP.step on 14 steps, with "
                           "terminal and process rewards")


# --- Exercise 3.2: J(theta) by enumeration --------------------------------------------------------


def _objective_variants(policy: mdp.TinyPolicy, env: mdp.TextMDP) -> dict[str, torch.Tensor]:
    ids, mask = mdp.enumerate_sequences(policy)
    with torch.no_grad():
        token_logp = policy.token_logprobs(ids, mask)  # (N, H)
    steps = mdp.step_rewards(env, "", ids, mask)  # (N, H)
    G = steps.sum(1)  # (N,)
    probs = token_logp.sum(1).exp()  # (N,)
    last = mask.sum(1).long() - 1
    ended = ids.gather(1, last[:, None]).squeeze(1) == policy.eos_id
    terminal_env = mdp.TextMDP(env.tokenizer, env.reward_fn, None, env.max_new_tokens)
    G_terminal = mdp.step_rewards(terminal_env, "", ids, mask).sum(1)
    return {
        "right": (probs * G).sum(),
        "weighted every response equally instead of by its probability pi_theta(y | x)":
            G.mean(),
        "summed the returns without weighting them by their probability pi_theta(y | x)": G.sum(),
        "left out the responses cut off at the horizon (those that never say <eos> count too)":
            (probs * G * ended).sum(),
        "counted only the terminal reward (the per-step rewards are part of the return)":
            (probs * G_terminal).sum(),
        "used the probability of the last token instead of the whole response's probability":
            (token_logp.gather(1, last[:, None]).squeeze(1).exp() * G).sum(),
    }


def check_exact_objective(fn: Callable) -> None:
    """Exercise 3.2: ``fn(env, policy, prompt)`` -> J(theta) = sum_y pi_theta(y | x) G(y)."""
    cases = []
    for seed, horizon, per_step in ((0, 3, True), (1, 3, False), (2, 2, True), (3, 4, True)):
        policy = mdp.TinyPolicy(seed=seed, horizon=horizon)
        env = mdp.tiny_task(policy, per_step=per_step)
        variants = _objective_variants(policy, env)
        right = variants.pop("right")
        cases.append(((env, policy, ""), right, variants))
    run_cases("Exercise 3.2", lambda *args: _scalar(fn(*args)), cases, atol=1e-6)
    passed("Exercise 3.2", "J(theta) matches the enumeration of every response for 4 tiny "
                           "policies (horizons 2 to 4, terminal and process rewards)")


def _scalar(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().double().reshape(-1)[0] if x.numel() == 1 else x.detach().double()
    try:
        return torch.tensor(float(x), dtype=torch.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"Exercise 3.2: return a number (float or 0-d tensor), got "
                            f"{type(x).__name__}") from None
