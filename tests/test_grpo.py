"""course_lib.grpo: group advantages, the unbiased pass@k, the three normalizations of the loss,
and the training loop."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

import course_lib
from course_lib import grpo
from course_lib import rewards as R
from course_lib import world as W
from course_lib.grpo import (
    GRPOConfig,
    group_advantages,
    grpo_loss,
    pass_at_k,
    sampled_pass_at_k,
    train_grpo,
)
from course_lib.ppo import clipped_surrogate_loss

# --- group advantages ---------------------------------------------------------------------------


def test_group_advantages_standardize_each_group():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 6.0, 8.0])
    A = group_advantages(r, 4)
    groups = r.view(3, 4)
    expected = (groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-4)
    assert torch.allclose(A, expected.reshape(-1))
    assert torch.equal(A[4:8], torch.zeros(4))  # all equal: no signal
    assert A[0] > 0 and A[1] < 0
    assert torch.allclose(group_advantages(r, 4, scale_std=False),
                          (groups - groups.mean(1, keepdim=True)).reshape(-1))
    assert abs(float(A[:4].sum())) < 1e-6  # centred within the group


def test_group_advantages_bad_input():
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(6), 4)
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(6), 1)
    with pytest.raises(ValueError, match="rewards"):
        group_advantages(torch.zeros(2, 3), 3)
    with pytest.raises(ValueError, match="eps"):
        group_advantages(torch.zeros(6), 3, eps=-1.0)
    assert torch.equal(group_advantages(torch.ones(3), 1, scale_std=False), torch.zeros(3))


# --- pass@k -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, c, k", [(6, 2, 1), (6, 2, 3), (7, 3, 4), (5, 0, 2), (5, 5, 1),
                                     (8, 1, 8)])
def test_pass_at_k_is_the_share_of_k_subsets_with_a_right_sample(n, c, k):
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    exact = sum(any(s) for s in subsets) / len(subsets)
    assert math.isclose(pass_at_k(n, c, k), exact, rel_tol=1e-12, abs_tol=1e-12)


def test_pass_at_k_edges_and_bad_input():
    assert pass_at_k(16, 1, 1) == pytest.approx(1 / 16)
    assert pass_at_k(16, 13, 4) == 1.0  # n - c < k
    assert pass_at_k(16, 0, 16) == 0.0
    for args in ((4, 1, 8), (4, 5, 1), (4, -1, 1), (4, 1, 0), (4.0, 1, 1), (4, True, 1)):
        with pytest.raises(ValueError):
            pass_at_k(*args)


# --- the loss -----------------------------------------------------------------------------------


def _batch(seed=0, B=6, T=5):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) - 0.1
    lp = old + 0.3 * torch.randn(B, T, generator=g, dtype=torch.float64)
    lengths = torch.tensor([5, 1, 3, 4, 2, 5])
    mask = (torch.arange(T)[None] < lengths[:, None]).double()
    A = torch.randn(B, generator=g, dtype=torch.float64)
    return lp, old, A, mask


def test_dapo_is_lesson_08s_clipped_surrogate():
    lp, old, A, mask = _batch()
    assert torch.allclose(grpo_loss(lp, old, A, mask, 0.2, "dapo"),
                          clipped_surrogate_loss(lp, old, A, mask, 0.2))


def test_the_three_normalizations_at_ratio_one():
    """At theta = theta_old the gradient with respect to each token's log-prob is -A_i times
    that token's weight: 1/(B |y_i|), 1/N, 1/(B L)."""
    _, old, A, mask = _batch(1)
    B, L = mask.shape[0], 7
    lengths, N = mask.sum(1), mask.sum()
    for norm, weight in (("grpo", 1 / (B * lengths[:, None])), ("dapo", 1 / N),
                         ("dr_grpo", 1 / (B * L))):
        lp = old.clone().requires_grad_()
        grpo_loss(lp, old, A, mask, 0.2, norm, max_tokens=L).backward()
        assert torch.allclose(lp.grad, -A[:, None] * weight * mask), norm


def test_kl_term_and_bad_input():
    lp, old, A, mask = _batch(2)
    ref = old - 0.1
    with_kl = grpo_loss(lp, old, A, mask, 0.2, "dapo", ref_logprobs=ref, beta=0.5)
    k3 = torch.expm1(ref - lp) - (ref - lp)
    assert torch.allclose(with_kl, grpo_loss(lp, old, A, mask, 0.2, "dapo")
                          + 0.5 * (k3 * mask).sum() / mask.sum())
    with pytest.raises(ValueError, match="max_tokens"):
        grpo_loss(lp, old, A, mask, 0.2, "dr_grpo")
    with pytest.raises(ValueError, match="ref_logprobs"):
        grpo_loss(lp, old, A, mask, 0.2, "grpo", beta=0.1)
    with pytest.raises(ValueError, match="normalization"):
        grpo_loss(lp, old, A, mask, 0.2, "token")
    with pytest.raises(ValueError, match="advantages"):
        grpo_loss(lp, old, A[:, None].expand_as(lp), mask)
    with pytest.raises(ValueError, match="mask"):
        grpo_loss(lp, old, A, mask[:, :3])


# --- the config and the loop ---------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("group_size", 1), ("normalization", "sum"),
                                          ("scale_std", 1), ("clip_eps", 0), ("lr", 0),
                                          ("steps", 0), ("max_grad_norm", -1.0)])
def test_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=field):
        GRPOConfig(**{field: value})


@pytest.fixture(scope="module")
def sft():
    return course_lib.load_sft_model(device="cpu", progress=False)


def test_train_grpo_logs_and_counts_groups(sft):
    model, tok = sft
    policy = copy.deepcopy(model)
    prompts = [W.chain_question(t) for t in W.chain_problems("train", 20, n_terms=3)]
    seen = []
    config = GRPOConfig(steps=2, prompts_per_step=3, group_size=4, max_new_tokens=30, epochs=2,
                        normalization="dr_grpo")
    history = train_grpo(policy, copy.deepcopy(model), tok, prompts, R.exact_match_reward,
                         config, on_step=seen.append, progress=False)
    assert len(history) == 2 and seen == history
    m = history[-1]
    assert m["samples"] == 24
    assert 0 <= m["no_signal"] <= 1 and 0 <= m["solved"] <= m["no_signal"]
    assert m["kl"] == m["kl"]  # a reference was given: the KL is measured
    assert any(not torch.equal(p, q) for p, q in zip(policy.parameters(), model.parameters()))


def test_train_grpo_bad_input(sft):
    model, tok = sft
    with pytest.raises(ValueError, match="ref_policy"):
        train_grpo(model, None, tok, ["Q: What is 12 + 34 + 56? A:"], R.exact_match_reward,
                   GRPOConfig(beta=0.1))
    with pytest.raises(ValueError, match="config"):
        train_grpo(model, None, tok, ["Q: What is 12 + 34 + 56? A:"], R.exact_match_reward,
                   config={"steps": 1})


def test_sampled_pass_at_k_is_monotone_in_k(sft):
    model, tok = sft
    prompts = [W.chain_question(t) for t in W.chain_problems("test", 6, n_terms=3)]
    out = sampled_pass_at_k(model, tok, prompts, R.exact_match_reward, n=4, ks=(1, 2, 4),
                            max_new_tokens=30)
    assert out[1][0] <= out[2][0] <= out[4][0] <= 1


def test_the_cached_model_is_keyed_by_its_config():
    from dataclasses import replace

    from course_lib.grpo import LESSON_CONFIG, grpo_model_key

    key = grpo_model_key(LESSON_CONFIG)
    assert key == grpo_model_key(replace(LESSON_CONFIG))
    assert key != grpo_model_key(replace(LESSON_CONFIG, lr=LESSON_CONFIG.lr * 2))
    assert key != grpo_model_key(replace(LESSON_CONFIG, steps=LESSON_CONFIG.steps + 1))


def test_the_shipped_grpo_run_is_the_lesson_config_s_and_loads_without_training(
        tmp_path, monkeypatch):
    """assets/grpo is LESSON_CONFIG's run (same key), so lesson 09 loads it at once with its
    history and never trains or writes a cache."""
    import json

    from course_lib.models import GRPO_MODEL_DIR

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    meta = json.loads((GRPO_MODEL_DIR / "meta.json").read_text())
    assert meta["key"] == grpo.grpo_model_key(grpo.LESSON_CONFIG), (
        "assets/grpo is stale: train it with grpo.load_grpo_model() and copy the cached folder")
    _, _, history = grpo.load_grpo_model(device="cpu", progress=False)
    assert len(history) == grpo.LESSON_CONFIG.steps and not list(tmp_path.iterdir())
