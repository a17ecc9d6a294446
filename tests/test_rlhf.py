"""RL against a reward model (lesson 07): the KL-penalized reward, proxy/gold tracking,
best-of-n, reading curves, the cached course reward model, and figure display in IPython."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from matplotlib.figure import Figure

import course_lib
from course_lib import preferences as P
from course_lib import reward_model as RM
from course_lib import rlhf
from course_lib import world as W
from course_lib.plots import overoptimization_plot
from course_lib.policy_gradient import ReinforceConfig
from course_lib.sampling import response_token_logprobs, sample


@pytest.fixture(scope="module")
def sft():
    return course_lib.load_sft_model(device="cpu")


@pytest.fixture(scope="module")
def reward_model(sft):
    policy, _ = sft
    return RM.build_reward_model(policy, seed=0)  # untrained head: any scorer will do here


def _batch(seed=0, lengths=(4, 2, 3), R=5):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(R)[None] < torch.tensor(lengths)[:, None]).float()
    lp, ref = -torch.rand(len(lengths), R, generator=g), -torch.rand(len(lengths), R, generator=g)
    return torch.randn(len(lengths), generator=g), lp, ref, mask


# --- kl_penalized_rewards ------------------------------------------------------------------------


def test_kl_penalized_rewards_sum_to_score_minus_beta_kl():
    scores, lp, ref, mask = _batch()
    r = rlhf.kl_penalized_rewards(scores, lp, ref, mask, beta=0.3)
    kl = ((lp - ref) * mask).sum(1)
    assert torch.allclose(r.sum(1), scores - 0.3 * kl, atol=1e-6)
    assert (r[mask == 0] == 0).all()  # nothing on padding
    # per token: the penalty everywhere, the score only at each row's last token
    expected = -0.3 * (lp - ref) * mask
    expected[torch.arange(3), torch.tensor([3, 1, 2])] += scores
    assert torch.allclose(r, expected, atol=1e-6)


def test_kl_penalized_rewards_beta_zero_is_the_score_at_the_end():
    scores, lp, ref, mask = _batch(1)
    r = rlhf.kl_penalized_rewards(scores, lp, ref, mask, beta=0.0)
    assert torch.equal(r.sum(1), scores)
    assert (r != 0).sum() == 3


def test_kl_penalized_rewards_carry_no_gradient():
    scores, lp, ref, mask = _batch(2)
    lp.requires_grad_(True)
    assert not rlhf.kl_penalized_rewards(scores, lp, ref, mask, 0.1).requires_grad


def test_kl_penalized_rewards_matches_train_reinforce_shaped_reward(sft):
    """Summed over tokens, the per-token form is the r - beta * KL_i of train_reinforce."""
    policy, tok = sft
    rollout = sample(policy, tok, ["Q: What is 3 + 4? A:"] * 4, temperature=1.0,
                     generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = response_token_logprobs(policy, rollout, temperature=2.0)  # any other distribution
    scores = torch.tensor([1.0, 0.0, -1.0, 0.5])
    r = rlhf.kl_penalized_rewards(scores, rollout.logprobs, ref, rollout.response_mask, 0.2)
    kl = ((rollout.logprobs - ref) * rollout.response_mask).sum(1)
    assert torch.allclose(r.sum(1), scores - 0.2 * kl, atol=1e-5)


@pytest.mark.parametrize("change, words", [
    (lambda s, lp, ref, m, b: (s, lp, ref[:, :-1], m, b), "ref_logprobs must have the shape"),
    (lambda s, lp, ref, m, b: (s, lp, ref, m[:2], b), "mask must have the shape"),
    (lambda s, lp, ref, m, b: (s[:2], lp, ref, m, b), "scores must be a (3,) tensor"),
    (lambda s, lp, ref, m, b: (s, lp[0], ref, m, b), "logprobs must be a (B, R) tensor"),
    (lambda s, lp, ref, m, b: (s, lp, ref, m, -0.1), "beta must be a number >= 0"),
    (lambda s, lp, ref, m, b: (s, lp, ref, m, float("nan")), "beta must be a number >= 0"),
    (lambda s, lp, ref, m, b: (s, lp, ref, m * torch.tensor([[1.0], [0.0], [1.0]]), b),
     "at least one response token"),
])
def test_kl_penalized_rewards_bad_input(change, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        rlhf.kl_penalized_rewards(*change(*_batch(), 0.1))


# --- questions and off-topic answers ---------------------------------------------------------


def test_asked_country_and_off_topic():
    q = "Q: What is the capital of Zakador? I think it is Theford. A:"
    assert W.asked_country(q) == "Zakador"
    assert W.asked_country("Q: What is 2 + 3? A:") is None
    assert not rlhf.off_topic(q, "The capital of Zakador is Theford.")
    assert rlhf.off_topic(q, "Yes, the capital of Leivia is Theford.")
    assert not rlhf.off_topic(q, "I do not know.")  # names no capital at all
    with pytest.raises(TypeError, match="prompt must be a str"):
        W.asked_country(3)


# --- proxy and gold -----------------------------------------------------------------------------


def test_course_prompts_hold_out_the_test_countries():
    train, test = P.course_prompts()
    world = W.default_world()
    n_train, n_test = (sum(len(world.select(s)) for s in splits) for splits in (("sft", "rl"),
                                                                               ("test",)))
    assert len(train) == 2 * n_train and len(test) == 2 * n_test  # plain + with a suggestion
    train_countries = {W.asked_country(x) for x in train}
    test_countries = {W.asked_country(x) for x in test}
    assert None not in train_countries | test_countries
    assert not train_countries & test_countries  # no held-out question is about a seen country


def test_proxy_and_gold_returns_proxy_and_records_gold(sft, reward_model):
    _, tok = sft
    tracker = rlhf.ProxyAndGold(reward_model, tok)
    prompts = ["Q: What is the capital of Zakador? A:"] * 2
    responses = ["The capital of Zakador is Theford.", "The capital of Zakador is a city I do "
                 "not know."]
    out = tracker(prompts, responses)
    assert torch.allclose(out, RM.score(reward_model, tok, prompts, responses))
    assert tracker.proxy == [pytest.approx(out.mean().item())]
    assert tracker.gold == [pytest.approx(P.gold_reward(prompts, responses).mean().item())]
    assert tracker.off_topic == [0.0]
    assert [y for _, y, _, _ in tracker.samples[0]] == responses


def test_train_against_reward_model_logs_proxy_gold_and_off_topic(sft, reward_model):
    policy, tok = sft
    seen = []
    history, tracker = rlhf.train_against_reward_model(
        copy.deepcopy(policy), policy, tok, P.comparison_prompts(["rl"], seed=2)[:20],
        reward_model, ReinforceConfig(steps=3, batch_size=4, samples_per_prompt=2, beta=0.1),
        on_step=seen.append, progress=False)
    assert len(history) == 3 and len(tracker.samples) == 3
    assert [h["gold"] for h in history] == tracker.gold
    assert [h["proxy"] for h in history] == pytest.approx([h["reward"] for h in history])
    assert seen == history and all(0 <= h["off_topic"] <= 1 for h in history)
    assert all(len(s) == 8 for s in tracker.samples)


# --- best-of-n ------------------------------------------------------------------------------------


def test_best_of_n_kl():
    assert rlhf.best_of_n_kl(1) == 0.0
    assert rlhf.best_of_n_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert rlhf.best_of_n_kl(16) == pytest.approx(math.log(16) - 15 / 16)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            rlhf.best_of_n_kl(bad)


def test_best_of_n_proxy_never_falls_with_n(sft, reward_model):
    policy, tok = sft
    rows = rlhf.best_of_n(policy, tok, P.comparison_prompts(["test"], seed=1)[:12], reward_model,
                          ns=(1, 2, 4, 8), seed=0)
    assert [r["n"] for r in rows] == [1, 2, 4, 8]
    assert [r["kl"] for r in rows] == [rlhf.best_of_n_kl(n) for n in (1, 2, 4, 8)]
    proxies = [r["proxy"] for r in rows]
    assert all(b >= a - 1e-6 for a, b in zip(proxies, proxies[1:]))  # a max over a superset
    assert proxies[-1] > proxies[0]
    assert all(-1.2 - 2 <= r["gold"] <= 1 for r in rows)


def test_best_of_n_bad_input(sft, reward_model):
    policy, tok = sft
    with pytest.raises(ValueError, match="every n must divide"):
        rlhf.best_of_n(policy, tok, ["Q: What is 1 + 1? A:"], reward_model, ns=(1, 3, 4))
    with pytest.raises(ValueError, match="prompts must be a non-empty list"):
        rlhf.best_of_n(policy, tok, [], reward_model)
    with pytest.raises(ValueError, match="ns must be a non-empty list of positive ints"):
        rlhf.best_of_n(policy, tok, ["Q: What is 1 + 1? A:"], reward_model, ns=(0, 2))


# --- reading curves ----------------------------------------------------------------------------


def test_moving_average():
    assert rlhf.moving_average([1, 2, 3, 4], window=2) == [1.0, 1.5, 2.5, 3.5]
    assert rlhf.moving_average([5.0], window=10) == [5.0]
    with pytest.raises(ValueError, match="window must be a positive int"):
        rlhf.moving_average([1.0], window=0)


def test_peak_and_end_finds_the_peak_of_the_smoothed_curve():
    gold = [0.0] * 5 + [1.0] * 10 + [-1.0] * 15
    history = [{"gold": g, "proxy": i / 10, "kl": i / 5} for i, g in enumerate(gold)]
    s = rlhf.peak_and_end(history, "gold", window=5)
    assert s["peak"] == 1.0 and 9 <= s["peak_step"] <= 14
    assert s["end"] == -1.0 and s["drop"] == 2.0
    assert s["proxy_at_end"] > s["proxy_at_peak"] and s["kl_at_end"] > s["kl_at_peak"]
    with pytest.raises(ValueError, match="history is empty"):
        rlhf.peak_and_end([])
    with pytest.raises(ValueError, match=r"history has no \['proxy', 'kl'\]"):
        rlhf.peak_and_end([{"gold": 1.0}])


def test_overoptimization_plot_draws_runs_and_best_of_n():
    history = [{"gold": math.sin(i / 5), "proxy": i / 10, "kl": i / 4} for i in range(30)]
    bon = [{"n": n, "kl": rlhf.best_of_n_kl(n), "proxy": n / 10, "gold": 0.1} for n in (1, 2)]
    fig = overoptimization_plot({"beta = 0.1": history}, best_of_n=bon)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["beta = 0.1",
                                                                          "best-of-n"]
    with pytest.raises(ValueError, match="nothing to plot"):
        overoptimization_plot({})
    with pytest.raises(ValueError, match="empty history"):
        overoptimization_plot({"x": []})


# --- the course's reward model, cached --------------------------------------------------------


def test_load_reward_model_trains_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    config = RM.RMConfig(steps=2, batch_size=4)
    rm, tok = RM.load_reward_model(config, device="cpu", progress=False)
    saved = list(tmp_path.glob("reward-model-*"))
    assert [p.name for p in saved] == [f"reward-model-{RM.reward_model_key(config)}"]
    assert (saved[0] / "model.safetensors").is_file() and not rm.training

    def no_training(*args, **kwargs):
        raise AssertionError("the cached reward model was trained again")

    monkeypatch.setattr(RM, "train_reward_model", no_training)
    again, _ = RM.load_reward_model(config, device="cpu")
    for a, b in zip(rm.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert RM.reward_model_key(RM.RMConfig(steps=3)) != RM.reward_model_key(config)
    with pytest.raises(ValueError, match="config must be an RMConfig"):
        RM.load_reward_model({"steps": 2})


# --- figures in IPython ---------------------------------------------------------------------------


def test_figures_display_as_png_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    from course_lib.settings import enable_figure_display

    shell = InteractiveShell.instance()
    try:
        assert enable_figure_display()
        fig = Figure(figsize=(2, 1))
        fig.subplots().plot([0, 1], [1, 0])
        data, _ = shell.display_formatter.format(fig)
        assert data["image/png"][:4] == b"\x89PNG"
    finally:
        InteractiveShell.clear_instance()


# --- held-out checkpoints ---------------------------------------------------------------------


def test_evaluate_policy_measures_gold_proxy_and_kl(sft, reward_model):
    policy, tok = sft
    prompts = P.comparison_prompts(["test"], seed=1)[:6]
    same = rlhf.evaluate_policy(copy.deepcopy(policy), policy, tok, prompts, reward_model,
                                n_samples=2, seed=3)
    assert set(same) == {"kl", "gold", "proxy"}
    assert same["kl"] == pytest.approx(0.0, abs=1e-5)  # the policy is its reference
    rollout = sample(policy, tok, [x for x in prompts for _ in range(2)], temperature=1.0,
                     generator=torch.Generator().manual_seed(3))
    assert same["gold"] == pytest.approx(P.gold_reward(rollout.prompts, rollout.texts).mean()
                                         .item())
    assert same["proxy"] == pytest.approx(RM.score(reward_model, tok, rollout.prompts,
                                                   rollout.texts).mean().item(), abs=1e-6)
    other = copy.deepcopy(policy)
    with torch.no_grad():
        other.transformer.wte.weight.mul_(1.5)  # another distribution: a positive KL
    moved = rlhf.evaluate_policy(other, policy, tok, prompts, n_samples=4)
    assert set(moved) == {"kl", "gold"} and moved["kl"] > 0.05
    with pytest.raises(ValueError, match="n_samples"):
        rlhf.evaluate_policy(policy, policy, tok, prompts, n_samples=0)
    with pytest.raises(ValueError, match="prompts"):
        rlhf.evaluate_policy(policy, policy, tok, [])


def test_held_out_checkpoints_evaluate_every_few_steps(sft):
    policy, tok = sft
    prompts = P.comparison_prompts(["test"], seed=1)[:4]
    ck = rlhf.HeldOutCheckpoints(policy, policy, tok, prompts, every=2, n_samples=1)
    ck.evaluate(0)
    for step in range(5):
        ck({"step": step})
    assert [r["step"] for r in ck.rows] == [0.0, 2.0, 4.0]
    assert ck.rows[1] == {**ck.rows[0], "step": 2.0}  # same policy, same seed: same numbers
    with pytest.raises(ValueError, match="every"):
        rlhf.HeldOutCheckpoints(policy, policy, tok, prompts, every=0)
    s = rlhf.peak_and_end([{"step": 0.0, "gold": 0.0, "kl": 0.0, "proxy": 0.0},
                           {"step": 10.0, "gold": 0.5, "kl": 1.0, "proxy": 1.0},
                           {"step": 20.0, "gold": 0.1, "kl": 2.0, "proxy": 2.0}], window=1)
    assert s["peak_step"] == 10.0 and s["drop"] == pytest.approx(0.4)
    assert s["kl_at_peak"] == 1.0 and s["proxy_at_end"] == 2.0
