"""Unit tests of course_lib.policy_gradient: REINFORCE checked against the exact gradient."""

from __future__ import annotations

import pytest
import torch

from course_lib import mdp
from course_lib.policy_gradient import (
    compute_baseline,
    reinforce_estimates,
    reinforce_loss,
    rewards_to_go,
)

N = 20_000


@pytest.fixture(scope="module")
def tiny():
    policy = mdp.TinyPolicy(seed=0)
    env = mdp.tiny_task(policy, per_step=True)
    exact = mdp.exact_gradient(policy, env).flatten()
    ids, mask = policy.sample(N, torch.Generator().manual_seed(0))
    steps = mdp.step_rewards(env, "", ids, mask)
    return policy, env, exact, ids, mask, steps


def test_loss_formula_by_hand():
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -0.5, -9.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards = torch.tensor([2.0, -1.0])
    loss = reinforce_loss(logprobs, rewards, mask)
    assert abs(float(loss) - (-(2.0 * -6.0 + -1.0 * -1.0) / 2)) < 1e-6
    loss.backward()
    assert torch.allclose(logprobs.grad, -rewards[:, None] * mask / 2)
    # baselines: mean, leave-one-out, tensor
    assert torch.allclose(compute_baseline(rewards, "mean"), torch.tensor([0.5, 0.5]))
    assert torch.allclose(compute_baseline(rewards, "loo"), torch.tensor([-1.0, 2.0]))
    b = torch.tensor([1.0, 1.0], requires_grad=True)
    reinforce_loss(logprobs, rewards, mask, b).backward()
    assert b.grad is None  # detached: no gradient reaches the baseline


def test_per_token_returns_and_rewards_to_go():
    steps = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    G = rewards_to_go(steps, mask)
    assert torch.equal(G, torch.tensor([[3.0, 2.0, 2.0], [3.0, 3.0, 0.0]]))
    logprobs = torch.randn(2, 3)
    # per-token returns equal to the whole return at every token = the (B,) form
    total = (steps * mask).sum(1)
    assert torch.isclose(reinforce_loss(logprobs, total[:, None] * mask, mask),
                         reinforce_loss(logprobs, total, mask))


@pytest.mark.parametrize("bad, match", [
    (dict(mask=torch.ones(2, 4)), "mask"),
    (dict(rewards=torch.ones(3)), "rewards"),
    (dict(rewards=torch.tensor([1.0, float("nan")])), "rewards"),
    (dict(logprobs=torch.zeros(2)), "logprobs"),
    (dict(baseline="median"), "baseline"),
    (dict(baseline=torch.ones(5)), "baseline"),
    (dict(mask=torch.full((2, 3), 0.5)), "mask"),
])
def test_bad_input_raises(bad, match):
    args = dict(logprobs=torch.zeros(2, 3), rewards=torch.ones(2), mask=torch.ones(2, 3),
                baseline=None)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        reinforce_loss(**args)
    with pytest.raises(ValueError, match="step_rewards"):
        rewards_to_go(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="loo"):
        compute_baseline(torch.ones(1), "loo")


@pytest.mark.parametrize("baseline", [None, "mean", "loo"])
@pytest.mark.parametrize("to_go", [False, True])
def test_reinforce_matches_exact_gradient(tiny, baseline, to_go):
    """>= 10,000 samples: cosine >= 0.99 and every coordinate within 4 standard errors."""
    policy, env, exact, ids, mask, steps = tiny
    returns = rewards_to_go(steps, mask) if to_go else steps.sum(1)
    loss = reinforce_loss(policy.token_logprobs(ids, mask), returns, mask, baseline)
    (grad,) = torch.autograd.grad(loss, policy.theta)
    estimate = -grad.flatten()
    # standard errors from the per-sample contributions (the batch-wide baseline is a constant
    # up to O(1/N))
    scores = mdp.token_scores(policy, ids, mask)  # (N, H, P)
    weights = returns if to_go else returns[:, None] * mask
    b = compute_baseline(returns, baseline, mask)
    b = b if to_go else b[:, None] * mask
    per_sample = torch.einsum("nt,ntp->np", (weights - b) * mask, scores)
    assert torch.allclose(per_sample.mean(0), estimate, atol=1e-10)
    se = per_sample.std(0) / N ** 0.5
    cos = torch.nn.functional.cosine_similarity(estimate, exact, dim=0)
    assert cos >= 0.99, float(cos)
    assert torch.all((estimate - exact).abs() <= 4 * se + 1e-12)


def test_estimates_equal_minus_the_gradient_of_the_loss(tiny):
    policy, env, exact, ids, mask, steps = tiny
    scores = mdp.token_scores(policy, ids[:64], mask[:64])
    for baseline in (None, "mean", "loo"):
        for to_go in (False, True):
            est = reinforce_estimates(scores, steps[:64], mask[:64], 16, baseline, to_go)
            for k in range(4):
                sl = slice(16 * k, 16 * (k + 1))
                returns = rewards_to_go(steps[sl], mask[sl]) if to_go else steps[sl].sum(1)
                loss = reinforce_loss(policy.token_logprobs(ids[sl], mask[sl]), returns,
                                      mask[sl], baseline)
                (grad,) = torch.autograd.grad(loss, policy.theta)
                assert torch.allclose(est[k], -grad.flatten(), atol=1e-10)


def test_baselines_cut_the_variance(tiny):
    policy, env, exact, ids, mask, steps = tiny
    scores = mdp.token_scores(policy, ids, mask)
    var = {b: float(reinforce_estimates(scores, steps, mask, 16, b).var(0).sum())
           for b in (None, "mean", "loo")}
    assert var[None] >= 2 * var["mean"] and var[None] >= 2 * var["loo"], var
    to_go = float(reinforce_estimates(scores, steps, mask, 16, None, True).var(0).sum())
    assert to_go < var[None]
