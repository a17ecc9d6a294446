"""The checks of exercises 8.1 and 8.2 accept two correct implementations each and name every
planted mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.checks import ExerciseError, check_clipped_surrogate_loss, check_gae
from course_lib.ppo import clipped_surrogate_loss, gae

# --- 8.1 --------------------------------------------------------------------------------------


def surrogate_by_cases(logprobs, old_logprobs, advantages, mask, clip_eps=0.2):
    """A second correct form: the clip as a cap that depends on the advantage's sign."""
    A = advantages[:, None] if advantages.dim() == 1 else advantages
    A = A.expand_as(logprobs)
    ratio = (logprobs - old_logprobs.detach()).exp()
    high = torch.tensor(1 + clip_eps, dtype=ratio.dtype)
    low = torch.tensor(1 - clip_eps, dtype=ratio.dtype)
    capped = torch.where(A >= 0, torch.minimum(ratio, high), torch.maximum(ratio, low))
    terms = capped * A * mask
    return -terms.sum() / mask.sum()


def make_surrogate(ratio="exp", detach=True, pick="min", clip="ratio", sides="both", masked=True):
    def loss(logprobs, old_logprobs, advantages, mask, clip_eps=0.2):
        old = old_logprobs.detach() if detach else old_logprobs
        A = advantages[:, None] if advantages.dim() == 1 else advantages
        r = torch.exp(logprobs - old) if ratio == "exp" else logprobs - old
        low, high = (1 - clip_eps, 1 + clip_eps)
        if clip == "advantage":
            clipped = r * A.clamp(low, high)
        elif sides == "upper":
            clipped = r.clamp(max=high) * A
        elif sides == "lower":
            clipped = r.clamp(min=low) * A
        else:
            clipped = r.clamp(low, high) * A
        obj = torch.min(r * A, clipped) if pick == "min" else torch.max(r * A, clipped)
        if not masked:
            return -obj.mean()
        return -(obj * mask).sum() / mask.sum()
    return loss


def test_surrogate_accepts_two_correct_implementations(capsys):
    check_clipped_surrogate_loss(clipped_surrogate_loss)
    check_clipped_surrogate_loss(surrogate_by_cases)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("flags, name", [
    (dict(ratio="difference"), "difference logprobs - old_logprobs as the ratio"),
    (dict(detach=False), "gradient flow into old_logprobs"),
    (dict(pick="max"), "took the max"),
    (dict(clip="advantage"), "clipped the advantage instead of the ratio"),
    (dict(sides="upper"), r"one side only \(at 1 \+ eps\)"),
    (dict(sides="lower"), r"one side only \(at 1 - eps\)"),
    (dict(masked=False), "averaged over the padding"),
])
def test_surrogate_names_each_planted_mistake(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_clipped_surrogate_loss(make_surrogate(**flags))


def test_surrogate_names_sample_level_averaging_without_condemning_it():
    def per_response(logprobs, old_logprobs, advantages, mask, clip_eps=0.2):
        A = advantages[:, None] if advantages.dim() == 1 else advantages
        r = (logprobs - old_logprobs.detach()).exp()
        obj = torch.min(r * A, r.clamp(1 - clip_eps, 1 + clip_eps) * A) * mask
        return -(obj.sum(1) / mask.sum(1)).mean()
    with pytest.raises(ExerciseError, match="a different estimator"):
        check_clipped_surrogate_loss(per_response)


def test_surrogate_stub_error_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 8.1")
    with pytest.raises(NotImplementedError, match="Exercise 8.1"):
        check_clipped_surrogate_loss(stub)


def test_surrogate_loss_without_gradient_is_named():
    def detached(logprobs, old_logprobs, advantages, mask, clip_eps=0.2):
        return clipped_surrogate_loss(logprobs.detach(), old_logprobs, advantages, mask, clip_eps)
    with pytest.raises(ExerciseError, match="no gradient"):
        check_clipped_surrogate_loss(detached)


# --- 8.2 --------------------------------------------------------------------------------------


def gae_by_matrix(rewards, values, mask, gamma, lam):
    """A second correct form: A = D @ delta with D[t, s] = (gamma lam)^(s - t) within a response."""
    B, T = rewards.shape
    next_mask = torch.cat([mask[:, 1:], torch.zeros(B, 1, dtype=mask.dtype)], 1)
    next_values = torch.cat([values[:, 1:], torch.zeros(B, 1, dtype=values.dtype)], 1) * next_mask
    deltas = (rewards + gamma * next_values - values) * mask
    t = torch.arange(T)
    power = (t[None, :] - t[:, None]).clamp(min=0).to(values.dtype)
    D = torch.where(t[None, :] >= t[:, None], (gamma * lam) ** power, torch.zeros(()))  # (T, T)
    advantages = (deltas @ D.T) * mask  # padding deltas are 0, so the sum stops at the end
    return advantages, (advantages + values) * mask


def make_gae(no_mask=False, past_end=False, swap=False, returns="lambda", order="ok"):
    def fn(rewards, values, mask, gamma, lam):
        if swap:
            gamma, lam = lam, gamma
        B, T = rewards.shape
        m = torch.ones_like(mask) if no_mask else mask
        adv = torch.zeros_like(rewards)
        last = torch.zeros(B, dtype=rewards.dtype)
        for t in reversed(range(T)):
            if t + 1 < T:
                alive = torch.ones(B, dtype=rewards.dtype) if past_end or no_mask else m[:, t + 1]
                nv = values[:, t + 1] * alive
                cont = m[:, t + 1] if not no_mask else torch.ones(B, dtype=rewards.dtype)
            else:
                nv = torch.zeros(B, dtype=rewards.dtype)
                cont = torch.zeros(B, dtype=rewards.dtype)
            delta = (rewards[:, t] + gamma * nv - values[:, t]) * m[:, t]
            last = delta + gamma * lam * cont * last
            adv[:, t] = last
        adv = adv * m
        if returns == "lambda":
            ret = (adv + values) * m
        else:  # the discounted reward-to-go
            ret, run = torch.zeros_like(rewards), torch.zeros(B, dtype=rewards.dtype)
            for t in reversed(range(T)):
                run = rewards[:, t] + gamma * run
                ret[:, t] = run
            ret = ret * mask
        return (ret, adv) if order == "swapped" else (adv, ret)
    return fn


def test_gae_accepts_two_correct_implementations(capsys):
    check_gae(gae)
    check_gae(gae_by_matrix)
    check_gae(make_gae())
    assert capsys.readouterr().out.count("passed") == 3


@pytest.mark.parametrize("flags, name", [
    (dict(no_mask=True), "without the mask"),
    (dict(past_end=True), "bootstrapped past the end"),
    (dict(swap=True), "swapped gamma and lambda"),
    (dict(returns="to_go"), "reward-to-go as the returns"),
    (dict(order="swapped"), r"returned \(returns, advantages\)"),
])
def test_gae_names_each_planted_mistake(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_gae(make_gae(**flags))


def test_gae_stub_error_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 8.2")
    with pytest.raises(NotImplementedError, match="Exercise 8.2"):
        check_gae(stub)


def test_gae_wrong_return_type_is_named():
    with pytest.raises(ExerciseError, match="return two tensors"):
        check_gae(lambda r, v, m, gamma, lam: gae(r, v, m, gamma, lam)[0])
