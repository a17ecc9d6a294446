"""Unit tests of course_lib.ppo: the clipped surrogate, the KL estimators, GAE, the config and
the training loop (it learns, logs, stops, and names bad input)."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

import course_lib
from course_lib import mdp
from course_lib import world as W
from course_lib.policy_gradient import reinforce_loss
from course_lib.ppo import (
    PPOConfig,
    ValueHead,
    clip_fraction,
    clipped_surrogate_loss,
    gae,
    kl_estimates,
    minibatch_rows,
    response_features,
    train_ppo,
)
from course_lib.sampling import response_token_logprobs, sample
from course_lib.training import TrainingStopped


def batch(seed=0, B=5, T=6):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 2
    lp = old + 0.5 * torch.randn(B, T, generator=g, dtype=torch.float64)
    lengths = torch.tensor([T, 3, 1, 4, 6][:B])
    mask = (torch.arange(T)[None] < lengths[:, None]).double()
    A = torch.randn(B, generator=g, dtype=torch.float64)
    return lp, old, A, mask


# --- the clipped surrogate ------------------------------------------------------------------------


def test_surrogate_at_ratio_one_is_minus_the_token_mean_advantage_and_reinforce_gradient():
    _, old, A, mask = batch()
    lp = old.clone().requires_grad_()
    loss = clipped_surrogate_loss(lp, old, A, mask)
    assert loss.item() == pytest.approx(float(-(A[:, None] * mask).sum() / mask.sum()))
    loss.backward()
    ref = old.clone().requires_grad_()
    reinforce_loss(ref, A, mask).backward()  # the same direction, scaled by B / tokens
    scale = A.shape[0] / float(mask.sum())
    assert torch.allclose(lp.grad, scale * ref.grad)


def test_surrogate_clips_the_gradient_where_the_ratio_left_the_band():
    old = torch.zeros(1, 4, dtype=torch.float64)
    lp = torch.log(torch.tensor([[1.5, 0.5, 1.1, 0.7]], dtype=torch.float64)).requires_grad_()
    mask = torch.ones(1, 4, dtype=torch.float64)
    # A > 0: only a ratio above 1 + eps is capped; A < 0: only ratios below 1 - eps
    for sign, frozen in ((1.0, [0]), (-1.0, [1, 3])):
        lp.grad = None
        clipped_surrogate_loss(lp, old, torch.tensor([sign], dtype=torch.float64), mask).backward()
        assert [i for i in range(4) if lp.grad[0, i] == 0] == frozen
    assert clip_fraction(lp.detach(), old, mask, 0.2) == pytest.approx(0.75)


def test_surrogate_without_clipping_and_per_token_advantages():
    lp, old, A, mask = batch(1)
    unclipped = -((lp - old).exp() * A[:, None] * mask).sum() / mask.sum()
    assert float(clipped_surrogate_loss(lp, old, A, mask, math.inf)) == pytest.approx(
        float(unclipped))
    per_token = A[:, None].expand_as(lp).clone()
    assert float(clipped_surrogate_loss(lp, old, per_token, mask)) == pytest.approx(
        float(clipped_surrogate_loss(lp, old, A, mask)))


def test_surrogate_detaches_old_logprobs_and_advantages():
    lp, old, A, mask = batch(2)
    old, A, lp = old.requires_grad_(), A.requires_grad_(), lp.requires_grad_()
    clipped_surrogate_loss(lp, old, A, mask).backward()
    assert old.grad is None and A.grad is None and lp.grad is not None


@pytest.mark.parametrize("change, words", [
    (dict(old=torch.zeros(5, 5)), "old_logprobs must have the shape"),
    (dict(mask=torch.ones(5, 7)), "mask must have the shape"),
    (dict(A=torch.zeros(4)), "advantages must have shape"),
    (dict(eps=0.0), "clip_eps must be a number > 0"),
    (dict(eps=-0.2), "clip_eps must be a number > 0"),
    (dict(eps=True), "clip_eps"),
    (dict(lp=torch.zeros(6)), r"logprobs must be a \(B, T\) tensor"),
])
def test_surrogate_bad_input(change, words):
    lp, old, A, mask = batch()
    args = dict(lp=lp, old=old, A=A, mask=mask, eps=0.2) | change
    with pytest.raises(ValueError, match=words):
        clipped_surrogate_loss(args["lp"], args["old"], args["A"], args["mask"], args["eps"])


# --- KL estimators ------------------------------------------------------------------------------


def test_kl_estimates_formulas_and_signs():
    lp = torch.log(torch.tensor([0.5, 0.2, 0.9]))
    ref = torch.log(torch.tensor([0.25, 0.4, 0.9]))
    k = kl_estimates(lp, ref)
    log_r = ref - lp
    assert torch.allclose(k["k1"], -log_r) and torch.allclose(k["k2"], log_r ** 2 / 2)
    assert torch.allclose(k["k3"], log_r.exp() - 1 - log_r)
    assert k["k1"][1] < 0 and bool((k["k3"] >= 0).all()) and float(k["k3"][2]) == 0.0


def test_k1_and_k3_are_unbiased_k2_is_not_by_enumeration():
    policy, ref = mdp.TinyPolicy(seed=0), mdp.TinyPolicy(seed=1, scale=0.5)
    ids, mask = mdp.enumerate_sequences(policy)
    lp = policy.sequence_logprobs(ids, mask).detach()
    lq = ref.sequence_logprobs(ids, mask).detach()
    p = lp.exp()
    kl = float((p * (lp - lq)).sum())
    k = kl_estimates(lp, lq)
    assert float((p * k["k1"]).sum()) == pytest.approx(kl, rel=1e-9)
    assert float((p * k["k3"]).sum()) == pytest.approx(kl, rel=1e-9)
    assert abs(float((p * k["k2"]).sum()) - kl) > 1e-3
    assert bool((k["k3"] >= 0).all()) and bool((k["k1"] < 0).any())


def test_kl_estimates_bad_input():
    with pytest.raises(ValueError, match="ref_logprobs must have the shape"):
        kl_estimates(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="logprobs must be a tensor"):
        kl_estimates([0.1], torch.zeros(1))


# --- GAE ----------------------------------------------------------------------------------------


def gae_reference(rewards, values, mask, gamma, lam):
    """Plain Python, one response at a time."""
    adv = torch.zeros_like(rewards)
    for i in range(rewards.shape[0]):
        L = int(mask[i].sum())
        run = 0.0
        for t in reversed(range(L)):
            nv = float(values[i, t + 1]) if t + 1 < L else 0.0
            delta = float(rewards[i, t]) + gamma * nv - float(values[i, t])
            run = delta + gamma * lam * run
            adv[i, t] = run
    return adv, (adv + values) * mask


def gae_case(seed=0):
    g = torch.Generator().manual_seed(seed)
    B, T = 4, 6
    mask = (torch.arange(T)[None] < torch.tensor([6, 2, 4, 1])[:, None]).double()
    rewards = torch.randn(B, T, generator=g, dtype=torch.float64) * mask
    values = torch.randn(B, T, generator=g, dtype=torch.float64)  # junk on padding
    return rewards, values, mask


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.95), (0.9, 0.7), (1.0, 1.0), (0.99, 0.0)])
def test_gae_matches_a_plain_loop(gamma, lam):
    r, v, m = gae_case()
    adv, ret = gae(r, v, m, gamma, lam)
    exp_adv, exp_ret = gae_reference(r, v, m, gamma, lam)
    assert torch.allclose(adv, exp_adv) and torch.allclose(ret, exp_ret)
    assert bool((adv[m == 0] == 0).all()) and bool((ret[m == 0] == 0).all())


def test_gae_limits_and_the_value_after_the_end():
    r, v, m = gae_case(1)
    adv1, _ = gae(r, v, m, 1.0, 1.0)  # lam = 1: Monte Carlo, A_t = G_t - V(s_t)
    to_go = r.flip(1).cumsum(1).flip(1)
    assert torch.allclose(adv1, (to_go - v) * m)
    v2 = v.clone()
    v2[m == 0] = 100.0  # whatever the head says on padding does not leak in
    assert torch.allclose(gae(r, v2, m, 0.9, 0.8)[0], gae(r, v, m, 0.9, 0.8)[0])


def test_gae_bad_input():
    r, v, m = gae_case()
    with pytest.raises(ValueError, match="values must have the shape of rewards"):
        gae(r, v[:, :3], m, 1.0, 0.9)
    with pytest.raises(ValueError, match="mask must have the shape of rewards"):
        gae(r, v, m[:2], 1.0, 0.9)
    with pytest.raises(ValueError, match="lam must be a number in"):
        gae(r, v, m, 1.0, 1.5)
    with pytest.raises(ValueError, match="gamma must be a number in"):
        gae(r, v, m, -0.1, 0.9)


# --- the config ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, words", [
    (dict(epochs=0), "PPOConfig.epochs must be a positive int"),
    (dict(clip_eps=0.0), "PPOConfig.clip_eps must be a number > 0"),
    (dict(clip_eps=-1), "PPOConfig.clip_eps"),
    (dict(minibatches=3), "PPOConfig.minibatches must divide batch_size"),
    (dict(clip_eps=math.nan), "PPOConfig.clip_eps"),
    (dict(advantage="critic"), "PPOConfig.advantage must be one of"),
    (dict(samples_per_prompt=1), "samples_per_prompt must be >= 2 with advantage='loo'"),
    (dict(lam=1.2), r"PPOConfig.lam must be a number in \[0, 1\]"),
    (dict(beta=-0.1), "PPOConfig.beta"),
    (dict(lr=0), "PPOConfig.lr must be a finite number > 0"),
    (dict(lr_schedule="cosine"), "PPOConfig.lr_schedule"),
    (dict(max_grad_norm=0), "PPOConfig.max_grad_norm"),
    (dict(steps=2.5), "PPOConfig.steps"),
])
def test_config_bad_values(kwargs, words):
    with pytest.raises(ValueError, match=words):
        PPOConfig(**kwargs)


def test_config_is_frozen_and_allows_no_clipping():
    config = PPOConfig(clip_eps=math.inf)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 2
    assert PPOConfig(advantage="gae", samples_per_prompt=1, minibatches=2).advantage == "gae"


# --- the loop on the course model --------------------------------------------------------------

PROMPTS = [W.addition_question(a, b) for a, b in W.addition_problems("train")[:20]]
TINY = dict(steps=2, batch_size=2, samples_per_prompt=2, epochs=2, minibatches=2,
            max_new_tokens=6)
KEYS = {"step", "samples", "reward", "kl", "length", "entropy", "loss", "loss_first",
        "clip_frac", "approx_kl", "value_loss", "explained_variance", "advantage_sq", "lr",
        "time"}


def length_reward(prompts, responses):
    return torch.tensor([float(len(y)) / 10 for y in responses])


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


@pytest.fixture
def models(base):
    model, tokenizer = base
    return copy.deepcopy(model), copy.deepcopy(model).eval(), tokenizer


def params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def test_response_features_and_a_fresh_value_head(base):
    model, tok = base
    roll = sample(model, tok, PROMPTS[:4], max_new_tokens=6,
                  generator=torch.Generator().manual_seed(0))
    h = response_features(model, roll)
    assert h.shape == (*roll.response_ids.shape, model.config.hidden_size) and not h.requires_grad
    values = ValueHead(model.config.hidden_size)(h)
    assert values.shape == roll.response_ids.shape and bool((values == 0).all())  # starts at 0
    # the features are those of the forward pass whose logits give the response's log-probs
    logits = model.lm_head(h)
    lp = torch.log_softmax(logits, -1).gather(2, roll.response_ids[..., None]).squeeze(2)
    assert torch.allclose(lp * roll.response_mask, response_token_logprobs(model, roll),
                          atol=1e-5)


def test_minibatches_keep_a_prompts_samples_together_and_cover_the_batch():
    rows = minibatch_rows(6, 3, 2, torch.Generator().manual_seed(0))
    assert len(rows) == 2 and sorted(torch.cat(rows).tolist()) == list(range(18))
    for r in rows:
        assert all(len({int(i) // 3 for i in r[k:k + 3]}) == 1 for k in range(0, len(r), 3))


def test_rollout_select_cuts_to_the_longest_row(base):
    model, tok = base
    roll = sample(model, tok, PROMPTS[:4], max_new_tokens=8,
                  generator=torch.Generator().manual_seed(1))
    shortest = torch.tensor([int(roll.lengths.argmin())])
    sub = roll.select(shortest)
    assert sub.response_ids.shape[1] == int(roll.lengths.min()) and len(sub) == 1
    assert sub.texts == [roll.texts[int(shortest)]]


@pytest.mark.parametrize("advantage", ["loo", "gae"])
def test_history_metrics_and_learning(models, advantage):
    policy, ref, tok = models
    before = params(policy)
    head = ValueHead(policy.config.hidden_size) if advantage == "gae" else None
    seen = []
    history = train_ppo(policy, ref, tok, PROMPTS, length_reward,
                        PPOConfig(**TINY, advantage=advantage), value_head=head,
                        on_step=seen.append, progress=False)
    assert len(history) == 2 and seen == history and set(history[0]) == KEYS
    assert [h["samples"] for h in history] == [4, 8]
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-4)
    assert math.isfinite(history[0]["loss_first"]) and 0 <= history[0]["clip_frac"] <= 1
    assert not torch.equal(before, params(policy)) and not policy.training
    if advantage == "gae":
        assert math.isfinite(history[0]["value_loss"]) and bool(head.linear.weight.abs().sum() > 0)
    else:
        assert math.isnan(history[0]["value_loss"])


def test_one_epoch_one_minibatch_is_a_reinforce_step(models):
    """epochs = minibatches = 1: the ratio is 1, the update is the policy gradient."""
    policy, ref, tok = models
    h = train_ppo(policy, ref, tok, PROMPTS, length_reward,
                  PPOConfig(**TINY | dict(epochs=1, minibatches=1)), progress=False)
    assert all(x["clip_frac"] == 0 and abs(x["approx_kl"]) < 1e-6 for x in h)


def test_same_seed_same_run(base):
    model, tok = base
    runs = []
    for _ in range(2):
        policy = copy.deepcopy(model)
        h = train_ppo(policy, copy.deepcopy(model), tok, PROMPTS, length_reward,
                      PPOConfig(**TINY), progress=False)
        runs.append(([x["loss"] for x in h], params(policy)))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_keyboard_interrupt_keeps_model_and_history(models):
    policy, ref, tok = models

    def interrupt(metrics):
        if metrics["step"] == 1:
            raise KeyboardInterrupt
    h = train_ppo(policy, ref, tok, PROMPTS, length_reward, PPOConfig(**TINY | dict(steps=4)),
                  on_step=interrupt, progress=False)
    assert len(h) == 2 and not policy.training


def test_kl_penalty_runs(models):
    policy, ref, tok = models
    h = train_ppo(policy, ref, tok, PROMPTS, length_reward, PPOConfig(**TINY, beta=0.1),
                  progress=False)
    assert len(h) == 2


@pytest.mark.parametrize("kwargs, words", [
    (dict(config=PPOConfig(**TINY, advantage="gae")), "needs a value_head"),
    (dict(config=PPOConfig(**TINY, advantage="gae"), value_head=ValueHead(64)),
     "value_head reads hidden states of size 64"),
    (dict(value_head=ValueHead(128)), "value_head is used only with advantage='gae'"),
    (dict(config=dict(epochs=2)), "config must be a PPOConfig"),
    (dict(prompts="Q: What is 10 + 10? A:"), "prompts must be a non-empty list"),
    (dict(reward_fn=lambda p, r: torch.zeros(3)), "reward_fn returned 3 rewards for 4"),
    (dict(ref="same"), "ref_policy must be a separate"),
])
def test_bad_inputs(models, kwargs, words):
    policy, ref, tok = models
    args = dict(config=PPOConfig(**TINY), prompts=PROMPTS, reward_fn=length_reward,
                value_head=None, ref=ref) | kwargs
    ref_policy = policy if args["ref"] == "same" else args["ref"]
    with pytest.raises(ValueError, match=words):
        train_ppo(policy, ref_policy, tok, args["prompts"], args["reward_fn"], args["config"],
                  value_head=args["value_head"], progress=False)


def test_nan_reward_stops_before_the_weights_change(models):
    policy, ref, tok = models
    before = params(policy)
    with pytest.raises(TrainingStopped, match="nan"):
        train_ppo(policy, ref, tok, PROMPTS, lambda p, r: torch.full((len(p),), float("nan")),
                  PPOConfig(**TINY), progress=False)
    assert torch.equal(before, params(policy))


def test_value_head_bad_size():
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        ValueHead(0)
