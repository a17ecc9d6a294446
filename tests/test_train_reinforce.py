"""Unit tests of train_reinforce: it learns, it logs, it stops cleanly, and bad input is named."""

from __future__ import annotations

import copy

import pytest
import torch

import course_lib
from course_lib import rewards as R
from course_lib import world as W
from course_lib.policy_gradient import (
    ReinforceConfig,
    TrainingStopped,
    group_baseline,
    train_reinforce,
)
from course_lib.sampling import sample

PROMPTS = [W.addition_question(a, b) for a, b in W.addition_problems("train")[:20]]
TINY = dict(steps=3, batch_size=2, samples_per_prompt=2, max_new_tokens=6)


def length_reward(prompts, responses):
    """A reward that differs between responses even for the untrained base model."""
    return torch.tensor([float(len(y)) / 10 for y in responses])


KEYS = {"step", "reward", "kl", "entropy", "loss", "grad_norm", "lr", "length", "abstain", "hedged",
        "confident", "time"}


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
    (dict(config=ReinforceConfig(**TINY, beta=-0.1)), "config.beta must be a number >= 0"),
    (dict(config=ReinforceConfig(**{**TINY, "steps": 0})), "config.steps"),
    (dict(config=ReinforceConfig(**TINY, baseline="median")), "config.baseline"),
    (dict(config=ReinforceConfig(**TINY, lr_schedule="cosine")), "config.lr_schedule must be"),
    (dict(config=ReinforceConfig(**TINY, beta=0.1), ref=None), "needs a ref_policy"),
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
