"""Unit tests of train_reinforce: it learns, it logs, it stops cleanly, and bad input is named."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

import course_lib
from course_lib import policy_gradient as PG
from course_lib import rewards as R
from course_lib import rlhf
from course_lib import world as W
from course_lib.policy_gradient import (
    ReinforceConfig,
    TrainingStopped,
    group_baseline,
    train_reinforce,
)
from course_lib.sampling import response_token_logprobs, sample

PROMPTS = [W.addition_question(a, b) for a, b in W.addition_problems("train")[:20]]
TINY = dict(steps=3, batch_size=2, samples_per_prompt=2, max_new_tokens=6)


def length_reward(prompts, responses):
    """A reward that differs between responses even for the untrained base model."""
    return torch.tensor([float(len(y)) / 10 for y in responses])


KEYS = {"step", "reward", "kl", "entropy", "loss", "grad_norm", "lr", "length", "abstain", "hedged",
        "confident", "invalid", "time"}


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


@pytest.fixture
def models(base):
    model, tokenizer = base
    policy = copy.deepcopy(model)
    return policy, copy.deepcopy(model).eval(), tokenizer


def params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def test_history_and_metrics(models):
    policy, ref, tok = models
    before = params(policy)
    seen = []
    history = train_reinforce(policy, ref, tok, PROMPTS, length_reward,
                              ReinforceConfig(**TINY), on_step=seen.append, progress=False)
    assert len(history) == 3 and seen == history
    assert set(history[0]) == KEYS and [h["step"] for h in history] == [0, 1, 2]
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # step 0: policy == reference
    assert all(h["entropy"] > 0 and h["length"] >= 1 for h in history)
    assert not torch.equal(before, params(policy))
    assert not policy.training
    assert [h["lr"] for h in history] == [1e-4] * 3  # the default schedule is constant


def test_linear_lr_schedule_decays_to_zero(models):
    policy, ref, tok = models
    h = train_reinforce(policy, ref, tok, PROMPTS, length_reward,
                        ReinforceConfig(**{**TINY, "steps": 4}, lr=2e-4, lr_schedule="linear"),
                        progress=False)
    assert [x["lr"] for x in h] == pytest.approx([2e-4, 1.5e-4, 1e-4, 0.5e-4])


def test_same_seed_same_run(base):
    model, tok = base
    runs = []
    for _ in range(2):
        policy = copy.deepcopy(model)
        h = train_reinforce(policy, None, tok, PROMPTS, length_reward,
                            ReinforceConfig(**TINY), progress=False)
        runs.append(([x["loss"] for x in h], params(policy)))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert h[0]["kl"] != h[0]["kl"]  # no reference: kl is nan
    assert not torch.equal(runs[0][1], params(model))


def test_keyboard_interrupt_keeps_model_and_history(models):
    policy, ref, tok = models
    k = 2

    def interrupt_at_k(metrics):
        if metrics["step"] == k - 1:
            raise KeyboardInterrupt

    history = train_reinforce(policy, ref, tok, PROMPTS, R.exact_match_reward,
                              ReinforceConfig(**{**TINY, "steps": 5}), on_step=interrupt_at_k,
                              progress=False)
    assert len(history) == k
    r = sample(policy, tok, PROMPTS[:3], max_new_tokens=6)  # the model still samples
    assert len(r.texts) == 3 and all(torch.isfinite(p).all() for p in policy.parameters())


def test_nan_reward_stops_with_a_clear_message(models):
    policy, ref, tok = models
    calls = []

    def nan_on_second_call(prompts, responses):
        calls.append(1)
        r = R.exact_match_reward(prompts, responses)
        if len(calls) == 2:
            r[1] = float("nan")
        return r

    before_step_1 = {}
    with pytest.raises(TrainingStopped, match=r"step 1: reward_fn returned nan") as err:
        train_reinforce(policy, ref, tok, PROMPTS, nan_on_second_call, ReinforceConfig(**TINY),
                        on_step=lambda m: before_step_1.update(p=params(policy)),
                        progress=False)
    assert len(err.value.history) == 1
    assert torch.equal(before_step_1["p"], params(policy))  # the bad step changed nothing


def test_kl_penalty_runs_and_baselines(models):
    policy, ref, tok = models
    h = train_reinforce(policy, ref, tok, PROMPTS, R.exact_match_reward,
                        ReinforceConfig(**TINY, beta=0.1, baseline="mean"), progress=False)
    assert len(h) == 3 and h[-1]["kl"] == h[-1]["kl"]


def test_group_baseline():
    r = torch.tensor([1.0, 0.0, 0.0, 2.0, 4.0, 6.0])  # 2 prompts x 3 samples
    assert group_baseline(r, 3, "loo").tolist() == [0.0, 0.5, 0.5, 5.0, 4.0, 3.0]
    assert group_baseline(r, 3, "mean").tolist() == pytest.approx([1 / 3] * 3 + [4.0] * 3)
    assert group_baseline(r, 1, "mean").tolist() == pytest.approx([13 / 6] * 6)
    assert group_baseline(r, 3, None).tolist() == [0.0] * 6


@pytest.mark.parametrize("kwargs, match", [
    (dict(prompts=[]), "prompts must be a non-empty list"),
    (dict(prompts="Q: What is 1 + 2? A:"), "prompts must be a non-empty list"),
    (dict(config=ReinforceConfig(**TINY, beta=0.1), ref=None), "needs a ref_policy"),
    (dict(config=dict(TINY)), "config must be a ReinforceConfig"),
    (dict(reward_fn=lambda p, r: torch.zeros(len(r) - 1)), r"returned 3 rewards for 4"),
    (dict(reward_fn=lambda p, r: torch.zeros(len(r) + 1)), r"returned 5 rewards for 4"),
    (dict(reward_fn="exact"), "reward_fn must be a function"),
])
def test_bad_inputs(models, kwargs, match):
    policy, ref, tok = models
    args = dict(prompts=PROMPTS, reward_fn=R.exact_match_reward, config=ReinforceConfig(**TINY),
                ref=ref)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        train_reinforce(policy, args["ref"], tok, args["prompts"], args["reward_fn"],
                        args["config"], progress=False)


@pytest.mark.parametrize("field, value, match", [
    ("beta", -0.1, "ReinforceConfig.beta must be a number >= 0"),
    ("beta", math.inf, "ReinforceConfig.beta must be a number >= 0"),
    ("steps", 0, "ReinforceConfig.steps must be a positive int"),
    ("steps", 2.5, "ReinforceConfig.steps must be a positive int"),
    ("batch_size", True, "ReinforceConfig.batch_size must be a positive int"),
    ("lr", math.inf, "ReinforceConfig.lr must be a finite number > 0"),
    ("lr", math.nan, "ReinforceConfig.lr must be a finite number > 0"),
    ("lr", 0.0, "ReinforceConfig.lr must be a finite number > 0"),
    ("temperature", -1.0, "ReinforceConfig.temperature must be a finite number > 0"),
    ("baseline", "median", "ReinforceConfig.baseline must be one of"),
    ("lr_schedule", "cosine", "ReinforceConfig.lr_schedule must be one of"),
    ("max_grad_norm", math.nan, "ReinforceConfig.max_grad_norm must be a finite number > 0"),
    ("seed", -1, "ReinforceConfig.seed must be a non-negative int"),
])
def test_config_rejects_bad_values_when_built(field, value, match):
    with pytest.raises(ValueError, match=match):
        ReinforceConfig(**{field: value})
    with pytest.raises(ValueError, match=match):  # dataclasses.replace builds a new one
        dataclasses.replace(ReinforceConfig(), **{field: value})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReinforceConfig().lr = 1.0  # a config is changed with dataclasses.replace


def test_train_reinforce_calls_reinforce_step_and_kl_penalized_rewards(models, monkeypatch):
    """What exercise 5.1 and lesson 07 (exercise 7.2) teach is what training runs: the loop calls
    the library's reinforce_step and kl_penalized_rewards, the functions the checks compare
    the students' with (spies, so every call is seen)."""
    policy, ref, tok = models
    steps, penalized = [], []

    def spy_step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        steps.append(out)
        return out

    def spy_penalty(scores, logprobs, ref_logprobs, mask, beta):
        out = real_penalty(scores, logprobs, ref_logprobs, mask, beta)
        penalized.append((scores, out, beta))
        return out

    real_step, real_penalty = PG.reinforce_step, PG.kl_penalized_rewards
    monkeypatch.setattr(PG, "reinforce_step", spy_step)
    monkeypatch.setattr(PG, "kl_penalized_rewards", spy_penalty)
    history = train_reinforce(policy, ref, tok, PROMPTS, length_reward,
                              ReinforceConfig(**TINY, beta=0.1), progress=False)
    assert len(steps) == len(penalized) == len(history) == 3
    assert [h["loss"] for h in history] == [loss.item() for loss, _ in steps]
    assert [h["grad_norm"] for h in history] == [norm.item() for _, norm in steps]
    for (scores, per_token, beta), h in zip(penalized, history):
        assert beta == 0.1 and per_token.dim() == 2  # per token, summed by the loop
        assert h["reward"] == pytest.approx(scores.mean().item())  # logged without the penalty
    # lesson 07 and exercise 7.2 name the same function
    assert rlhf.kl_penalized_rewards is real_penalty
    # without a KL penalty, the rewards are the scores as they are
    penalized.clear()
    train_reinforce(copy.deepcopy(policy), ref, tok, PROMPTS, length_reward,
                    ReinforceConfig(**TINY), progress=False)
    assert not penalized and len(steps) == 6


def test_reinforce_step_is_the_loss_and_one_step(base):
    """The library's reinforce_step: the loss of reinforce_loss, zero_grad, backward, clip, step;
    its gradient norm is the one before clipping."""
    model, tok = base
    policy = copy.deepcopy(model)
    r = sample(policy, tok, PROMPTS[:4], max_new_tokens=6,
               generator=torch.Generator().manual_seed(0))
    mask = r.response_mask.float()
    rewards, baseline = torch.tensor([1.0, 0.0, 2.0, 1.0]), torch.full((4,), 1.0)
    expected = PG.reinforce_loss(response_token_logprobs(policy, r), rewards, mask, baseline)
    expected.backward()
    norm = torch.cat([p.grad.double().reshape(-1) for p in policy.parameters()]).norm()
    policy.zero_grad()
    before = params(policy)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    loss, grad_norm = PG.reinforce_step(policy, optimizer, response_token_logprobs(policy, r),
                                        rewards, mask, baseline, max_grad_norm=norm.item() / 2)
    assert loss.item() == pytest.approx(expected.item())
    assert grad_norm.item() == pytest.approx(norm.item(), rel=1e-5)
    moved = (before - params(policy)).norm() / 0.1
    assert moved.item() == pytest.approx(norm.item() / 2, rel=1e-4)  # clipped to half
