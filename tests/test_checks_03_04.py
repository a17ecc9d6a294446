"""The checks of exercises 3.x and 4.x: accept correct answers written differently, and name
every planted mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib import mdp
from course_lib.checks import (
    ExerciseError,
    check_exact_objective,
    check_leave_one_out,
    check_reinforce_loss,
    check_step,
)

# --- 3.1 step ---------------------------------------------------------------------------------


def make_step(terminal_always=False, no_process=False, no_terminal=False, eos_ends=True,
              horizon_shift=0, append=True):
    def step(env, state, action):
        response = state.response_ids + ((action,) if append else ())
        done = ((eos_ends and action == env.eos_id)
                or len(response) >= env.max_new_tokens + horizon_shift)
        nxt = mdp.State(state.prompt, state.prompt_ids, response, env.decode(response), done)
        r = 0.0
        if env.step_reward_fn is not None and not no_process:
            r += env.step_reward_fn(state, action, nxt)
        if env.reward_fn is not None and not no_terminal and (done or terminal_always):
            r += env.reward_fn(nxt.prompt, nxt.text)
        return nxt, r, done
    return step


def step_via_library(env, state, action):
    return env.step_from(state, action)


def test_check_step_accepts_correct():
    check_step(make_step())
    check_step(step_via_library)


@pytest.mark.parametrize("flags, name", [
    (dict(terminal_always=True), "at every step"),
    (dict(no_terminal=True), "forgot the terminal reward"),
    (dict(no_process=True), "forgot the process"),
    (dict(eos_ends=False), "did not end the episode at <eos>"),
    (dict(horizon_shift=1), "one step too late"),
    (dict(horizon_shift=-1), "one step too early"),
    (dict(append=False), "did not append"),
])
def test_check_step_names_mistakes(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_step(make_step(**flags))


# --- 3.2 exact J --------------------------------------------------------------------------------


def exact_by_recursion(env, policy, prompt):
    def value(state, prob):
        total = 0.0
        logp = policy(state)
        for a in range(env.vocab_size):
            p = float(logp[a].exp())
            if p == 0.0:
                continue
            nxt, r, done = env.step_from(state, a)
            total += prob * p * r
            if not done:
                total += value(nxt, prob * p)
        return total
    return value(env.reset(prompt), 1.0)


def exact_by_enumeration(env, policy, prompt):
    ids, mask = mdp.enumerate_sequences(policy)
    returns = mdp.step_rewards(env, prompt, ids, mask).sum(1)
    return (policy.sequence_logprobs(ids, mask).exp() * returns).sum()


def wrong_objective(kind):
    def fn(env, policy, prompt):
        ids, mask = mdp.enumerate_sequences(policy)
        G = mdp.step_rewards(env, prompt, ids, mask).sum(1)
        token_logp = policy.token_logprobs(ids, mask).detach()
        probs = token_logp.sum(1).exp()
        last = mask.sum(1).long() - 1
        if kind == "uniform":
            return G.mean()
        if kind == "unweighted":
            return G.sum()
        if kind == "no_truncated":
            ended = ids.gather(1, last[:, None]).squeeze(1) == policy.eos_id
            return (probs * G * ended).sum()
        if kind == "terminal_only":
            env2 = mdp.TextMDP(env.tokenizer, env.reward_fn, None, env.max_new_tokens)
            return (probs * mdp.step_rewards(env2, prompt, ids, mask).sum(1)).sum()
        if kind == "last_token":
            return (token_logp.gather(1, last[:, None]).squeeze(1).exp() * G).sum()
        raise AssertionError(kind)
    return fn


def test_check_exact_objective_accepts_correct():
    check_exact_objective(exact_by_recursion)
    check_exact_objective(exact_by_enumeration)


@pytest.mark.parametrize("kind, name", [
    ("uniform", "equally"), ("unweighted", "without weighting"),
    ("no_truncated", "cut off at the horizon"), ("terminal_only", "only the terminal"),
    ("last_token", "last token"),
])
def test_check_exact_objective_names_mistakes(kind, name):
    with pytest.raises(ExerciseError, match=name):
        check_exact_objective(wrong_objective(kind))


# --- 4.1 reinforce_loss -------------------------------------------------------------------------


def loss_vectorized(logprobs, rewards, mask, baseline=None):
    b = torch.zeros_like(rewards) if baseline is None else baseline.detach()
    return -((rewards - b) * (logprobs * mask).sum(dim=1)).mean()


def loss_loops(logprobs, rewards, mask, baseline=None):
    total = 0.0
    B, T = logprobs.shape
    for i in range(B):
        adv = float(rewards[i]) - (0.0 if baseline is None else float(baseline[i].detach()))
        for t in range(T):
            if mask[i, t]:
                total = total - adv * logprobs[i, t]
    return total / B


def wrong_loss(kind):
    def fn(logprobs, rewards, mask, baseline=None):
        b = torch.zeros_like(rewards) if baseline is None else baseline
        if kind != "not_detached":
            b = b.detach()
        lp = logprobs.exp() if kind == "probs" else logprobs
        per = (lp if kind == "padding" else lp * mask).sum(1)
        terms = (rewards - b) * per
        value = terms.sum() if kind == "no_mean" else terms.mean()
        return value if kind == "sign" else -value
    return fn


def test_check_reinforce_loss_accepts_correct():
    check_reinforce_loss(loss_vectorized)
    check_reinforce_loss(loss_loops)


@pytest.mark.parametrize("kind, name", [
    ("not_detached", "did not detach the baseline"), ("sign", "flipped the sign"),
    ("padding", "over the padding"), ("probs", "probabilities instead of log-probabilities"),
    ("no_mean", "missing the mean over the batch"),
])
def test_check_reinforce_loss_names_mistakes(kind, name):
    with pytest.raises(ExerciseError, match=name):
        check_reinforce_loss(wrong_loss(kind))


# --- 4.2 leave-one-out ------------------------------------------------------------------------


def loo_vectorized(rewards):
    r = rewards.detach()
    return (r.sum() - r) / (len(r) - 1)


def loo_loops(rewards):
    values = [float(x) for x in rewards]
    return torch.tensor([sum(values[:i] + values[i + 1:]) / (len(values) - 1)
                         for i in range(len(values))], dtype=torch.float64)


def test_check_leave_one_out_accepts_correct():
    check_leave_one_out(loo_vectorized)
    check_leave_one_out(loo_loops)


@pytest.mark.parametrize("fn, name", [
    (lambda r: r.detach().mean().expand(len(r)), "included the sample itself"),
    (lambda r: (r.sum() - r) / (len(r) - 1), "did not detach the baseline"),
    (lambda r: (r.detach().sum() - r.detach()) / len(r), "instead of B - 1"),
])
def test_check_leave_one_out_names_mistakes(fn, name):
    with pytest.raises(ExerciseError, match=name):
        check_leave_one_out(fn)


def test_unfinished_exercise_lets_not_implemented_through():
    def stub(*args):
        raise NotImplementedError("Exercise 4.1")

    with pytest.raises(NotImplementedError):
        check_reinforce_loss(stub)
