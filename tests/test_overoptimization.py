"""Gold against KL (lesson 10): best-of-n over the samples, Gao et al.'s fits, cached RL runs."""

from __future__ import annotations

import json
import math

import pytest
import torch

import course_lib
from course_lib import overoptimization as O
from course_lib import reward_model as RM
from course_lib import rlhf
from course_lib.policy_gradient import ReinforceConfig

# --- best-of-n over an empirical distribution -----------------------------------------------------


def test_best_of_n_probs_is_the_distribution_of_the_best_of_n_draws():
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    s = torch.tensor([0.0, 2.0, 1.0])
    assert torch.allclose(O.best_of_n_probs(p, s, 1), p)  # n = 1: the distribution itself
    q = O.best_of_n_probs(p, s, 2)  # sorted by score: 0.5 (s=0), 0.25 (s=1), 0.25 (s=2)
    assert torch.allclose(q, torch.tensor([0.25, 1 - 0.75 ** 2, 0.75 ** 2 - 0.25]).double())
    # Monte Carlo: the best of 3 draws
    g = torch.Generator().manual_seed(0)
    draws = torch.multinomial(p, 3 * 200_000, replacement=True, generator=g).view(-1, 3)
    best = draws.gather(1, s[draws].argmax(1, keepdim=True))[:, 0]
    freq = torch.bincount(best, minlength=3).double() / len(best)
    assert torch.allclose(freq, O.best_of_n_probs(p, s, 3), atol=3e-3)


def test_best_of_n_probs_ties_share_their_level():
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    s = torch.tensor([1.0, 1.0, 0.0])  # the first two tie at the top
    q = O.best_of_n_probs(p, s, 4)
    top = 1 - 0.5 ** 4
    assert torch.allclose(q, torch.tensor([top * 0.4, top * 0.6, 0.5 ** 4]).double())


def test_best_of_n_kl_is_below_the_bound_and_reaches_it_without_repeats():
    g = torch.Generator().manual_seed(1)
    for _ in range(50):  # any discrete distribution (Beirami et al., 2024)
        k = int(torch.randint(2, 30, (1,), generator=g))
        p = torch.softmax(torch.randn(k, generator=g, dtype=torch.float64) * 2, 0)
        s = torch.randn(k, generator=g)
        for n in (2, 5, 16, 64):
            assert O.kl_divergence(O.best_of_n_probs(p, s, n), p) <= rlhf.best_of_n_kl(n) + 1e-9
    m = 5000  # all distinct and equally likely: close to the bound
    uniform = torch.full((m,), 1 / m, dtype=torch.float64)
    kl = O.kl_divergence(O.best_of_n_probs(uniform, torch.arange(m).float(), 16), uniform)
    assert kl == pytest.approx(rlhf.best_of_n_kl(16), abs=2e-3)


def test_best_of_n_probs_bad_input():
    with pytest.raises(ValueError, match="positive int"):
        O.best_of_n_probs(torch.ones(2) / 2, torch.zeros(2), 0)
    with pytest.raises(ValueError, match="same length"):
        O.best_of_n_probs(torch.ones(2) / 2, torch.zeros(3), 2)


def test_best_of_n_from_samples_counts_duplicates():
    prompts = ["x"] * 4 + ["z"] * 2
    texts = ["A", "A", "B", "C", "D", "E"]  # x: A twice; z: two distinct responses
    proxy = torch.tensor([0.0, 0.0, 2.0, 1.0, 5.0, 3.0])
    gold = torch.tensor([-1.0, -1.0, 1.0, 0.0, 0.5, 0.2])
    rows = O.best_of_n_from_samples(prompts, texts, proxy, gold, [1, 2])
    assert [r["n"] for r in rows] == [1, 2] and rows[0]["kl"] == 0.0
    p_x = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    q_x = torch.tensor([0.25, 1 - 0.75 ** 2, 0.75 ** 2 - 0.25]).double()  # A, B, C
    q_z = torch.tensor([0.75, 0.25]).double()  # D (the better) is chosen unless both are E
    p_z = torch.tensor([0.5, 0.5]).double()
    kl = (O.kl_divergence(q_x, p_x) + O.kl_divergence(q_z, p_z)) / 2
    assert rows[1]["kl"] == pytest.approx(kl)
    gold_x = float(q_x @ torch.tensor([-1.0, 1.0, 0.0]).double())
    gold_z = float(q_z @ torch.tensor([0.5, 0.2]).double())
    assert rows[1]["gold"] == pytest.approx((gold_x + gold_z) / 2, rel=1e-6)
    assert rows[1]["kl_bound"] == pytest.approx(math.log(2) - 0.5)
    assert rows[1]["kl"] < rows[1]["kl_bound"]
    with pytest.raises(ValueError, match="one length"):
        O.best_of_n_from_samples(prompts, texts[:3], proxy, gold, [1])


def test_score_distinct_scores_each_pair_once_in_order():
    calls = []

    def reward_fn(prompts, responses):
        calls.append(list(zip(prompts, responses)))
        return torch.tensor([float(len(y)) for y in responses])

    scores = O.score_distinct(reward_fn, ["a", "a", "b", "a"], ["xy", "xy", "xy", "z"])
    assert scores.tolist() == [2.0, 2.0, 2.0, 1.0]
    assert calls == [[("a", "xy"), ("b", "xy"), ("a", "z")]]
    with pytest.raises(ValueError, match="same length"):
        O.score_distinct(reward_fn, ["a"], [])


# --- Gao et al.'s fits ---------------------------------------------------------------------------


def test_fit_gao_recovers_both_forms_and_their_peaks():
    kl = [0.0, 0.3, 0.8, 1.5, 2.5, 4.0, 6.0]
    d = torch.tensor(kl, dtype=torch.float64).sqrt()
    bon = (d * (0.6 - 0.25 * d)).tolist()
    fit = O.fit_gao(kl, bon, "best-of-n")
    assert (fit.alpha, fit.beta) == (pytest.approx(0.6), pytest.approx(0.25))
    assert fit.r2 == pytest.approx(1.0)
    assert fit.peak_kl() == pytest.approx((0.6 / 0.5) ** 2)
    logd = torch.where(d > 0, d.clamp(min=1e-12).log(), torch.zeros_like(d))
    rl = (d * (0.4 - 0.3 * logd)).tolist()
    fit = O.fit_gao(kl, rl, "RL")
    assert (fit.alpha, fit.beta) == (pytest.approx(0.4), pytest.approx(0.3))
    assert fit.peak_kl() == pytest.approx(math.exp(0.4 / 0.3 - 1) ** 2)
    assert torch.allclose(fit(d), torch.tensor(rl, dtype=torch.float64))
    rising = O.fit_gao(kl, (0.5 * d).tolist(), "RL")
    assert rising.peak_kl() == math.inf or rising.beta == pytest.approx(0.0, abs=1e-9)


def test_fit_gao_r2_drops_on_noise_and_bad_input():
    kl = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
    noisy = [0.0, 0.3, -0.2, 0.4, -0.3, 0.2]
    assert O.fit_gao(kl, noisy, "best-of-n").r2 < 0.5
    assert O.fit_gao([-0.01, *kl[1:]], noisy, "RL").r2 <= 1.0  # a KL estimate below 0 is 0
    with pytest.raises(ValueError, match="form must be one of"):
        O.fit_gao(kl, noisy, "ppo")
    with pytest.raises(ValueError, match="at least 3 points"):
        O.fit_gao(kl[:2], noisy[:2], "RL")


# --- cached RL runs ------------------------------------------------------------------------------


def test_load_rl_run_trains_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    sft, _ = course_lib.load_sft_model(device="cpu")
    untrained = RM.build_reward_model(sft, seed=0)  # no need to train one for this test
    monkeypatch.setattr(RM, "load_reward_model", lambda **kw: (untrained, None))
    config = ReinforceConfig(steps=2, batch_size=2, samples_per_prompt=2, lr=1e-5, beta=0.01)
    run = O.load_rl_run("reward_model", config, (1, 2), n_samples=1, progress=False)
    assert [r["step"] for r in run["rows"]] == [0.0, 1.0, 2.0]
    assert set(run["rows"][1]) == {"step", "kl", "gold"}
    assert run["rows"][0]["kl"] == pytest.approx(0.0, abs=1e-5)  # step 0 is the SFT model
    assert len(run["history"]) == 2 and "gold" in run["history"][0]
    saved = list(tmp_path.glob("rl-run-*.json"))
    key = O.rl_run_key("reward_model", config, [1, 2], 1, 0)
    assert [p.name for p in saved] == [f"rl-run-{key}.json"]
    assert json.loads(saved[0].read_text())["rows"] == run["rows"]

    def no_training(*args, **kwargs):
        raise AssertionError("the cached run was trained again")

    monkeypatch.setattr(rlhf, "train_against_reward_model", no_training)
    assert O.load_rl_run("reward_model", config, (2, 1), n_samples=1) == run
    assert O.rl_run_key("gold", config, [1, 2], 1, 0) != key


def test_load_rl_run_bad_input():
    config = ReinforceConfig(steps=3)
    with pytest.raises(ValueError, match="reward must be one of"):
        O.load_rl_run("honesty", config, (1,))
    with pytest.raises(ValueError, match="checkpoints must be steps from 1"):
        O.load_rl_run("gold", config, (0, 3))
    with pytest.raises(ValueError, match="checkpoints must be steps from 1"):
        O.load_rl_run("gold", config, (4,))
    with pytest.raises(ValueError, match="config must be a ReinforceConfig"):
        O.load_rl_run("gold", {"steps": 3}, (1,))
