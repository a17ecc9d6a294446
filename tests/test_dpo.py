"""DPO (lesson 10): the KL-optimal policy, the DPO loss, summed response log-probabilities, the
training loop and its cache."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import course_lib
from course_lib import dpo
from course_lib import preferences as P
from course_lib.evaluation import sequence_logprobs


@pytest.fixture(scope="module")
def sft():
    return course_lib.load_sft_model(device="cpu")


@pytest.fixture(scope="module")
def pairs(sft):
    model, tok = sft
    return P.sample_comparisons(model, tok, P.comparison_prompts(["rl"], seed=2)[:12],
                                n_samples=6, max_pairs_per_prompt=3, seed=0)


# --- kl_optimal_policy ---------------------------------------------------------------------------


def _objective(pi, q, r, beta):
    return (pi * r).sum(-1) - beta * (pi * (pi.log() - q.log())).sum(-1)


def test_kl_optimal_policy_is_the_tilted_reference_and_beats_every_other_policy():
    g = torch.Generator().manual_seed(0)
    q = torch.softmax(torch.randn(12, generator=g, dtype=torch.float64), 0)
    r = torch.randn(12, generator=g, dtype=torch.float64)
    for beta in (0.1, 1.0, 5.0):
        star = dpo.kl_optimal_policy(q, r, beta)
        expected = q * torch.exp(r / beta)
        assert torch.allclose(star, expected / expected.sum(), atol=1e-12)
        best = _objective(star, q, r, beta)
        for _ in range(20):  # any other distribution scores lower
            other = torch.softmax(star.log() + 0.3 * torch.randn(12, generator=g,
                                                                 dtype=torch.float64), 0)
            assert _objective(other, q, r, beta) < best
        # J_beta(pi*) = beta log Z
        assert float(best) == pytest.approx(beta * math.log(float(expected.sum())), abs=1e-9)


def test_kl_optimal_policy_limits_batches_and_zero_probabilities():
    q = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    r = torch.tensor([[0.0, 1.0, 2.0, 9.0], [3.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(dpo.kl_optimal_policy(q, r, 1e4), q, atol=1e-3)  # beta large: pi_ref
    sharp = dpo.kl_optimal_policy(q, r, 1e-3)  # beta small: the best response pi_ref can say
    assert torch.allclose(sharp, torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]))
    assert dpo.kl_optimal_policy(q, r, 0.5)[0, 3] == 0  # never said by pi_ref: never said


@pytest.mark.parametrize("args, words", [
    ((torch.tensor([0.5, 0.5]), torch.tensor([1.0, 2.0, 3.0]), 0.1), "same shape"),
    ((torch.tensor([0.7, 0.7]), torch.tensor([1.0, 2.0]), 0.1), "probabilities"),
    ((torch.tensor([1.2, -0.2]), torch.tensor([1.0, 2.0]), 0.1), "probabilities"),
    ((torch.tensor([0.5, 0.5]), torch.tensor([1.0, 2.0]), 0.0), "beta must be a finite number > 0"),
    ((torch.tensor([0.5, 0.5]), torch.tensor([1.0, 2.0]), float("nan")), "beta"),
    ((torch.tensor([0.5, 0.5]), torch.tensor([1, 2]), 0.1), "rewards must be a floating"),
    ((torch.tensor([0.5, 0.5]), torch.tensor([1.0, float("inf")]), 0.1), "finite"),
    (([0.5, 0.5], torch.tensor([1.0, 2.0]), 0.1), "ref_probs must be"),
])
def test_kl_optimal_policy_bad_input(args, words):
    with pytest.raises(ValueError, match=words):
        dpo.kl_optimal_policy(*args)


# --- dpo_loss ------------------------------------------------------------------------------------


def _logps(seed, n=6):
    g = torch.Generator().manual_seed(seed)
    return [-torch.rand(n, generator=g) * 20 for _ in range(4)]


def test_dpo_loss_matches_its_equation():
    pc, pr, rc, rr = _logps(0)
    for beta in (0.1, 0.5, 2.0):
        m = beta * ((pc - rc) - (pr - rr))
        expected = torch.log1p(torch.exp(-m.double())).mean()
        assert float(dpo.dpo_loss(pc, pr, rc, rr, beta)) == pytest.approx(float(expected),
                                                                            rel=1e-5)
    assert float(dpo.dpo_loss(pc, pr, pc, pr)) == pytest.approx(math.log(2))  # pi = pi_ref
    # the default beta is 0.1
    assert torch.equal(dpo.dpo_loss(pc, pr, rc, rr), dpo.dpo_loss(pc, pr, rc, rr, 0.1))


def test_dpo_loss_is_finite_and_exact_at_huge_margins():
    zero = torch.zeros(2)
    pc = torch.tensor([1e4, -1e4])  # margins +1e4 and -1e4 at beta = 1
    per_pair = [float(dpo.dpo_loss(pc[i:i + 1], zero[:1], zero[:1], zero[:1], beta=1.0))
                for i in range(2)]
    assert per_pair == [0.0, 1e4]
    loss = dpo.dpo_loss(pc, zero, zero, zero, beta=1.0)
    assert torch.isfinite(loss) and float(loss) == pytest.approx(5e3)
    naive = -torch.log(torch.sigmoid(torch.tensor(-1e4)))
    assert torch.isinf(naive)  # what the two-step log(sigmoid(.)) would have given


def test_dpo_loss_gradient_raises_chosen_and_lowers_rejected():
    pc, pr, rc, rr = _logps(1)
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    dpo.dpo_loss(pc, pr, rc, rr, 0.5).backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()  # descent raises log pi(y_c)
    assert torch.allclose(pc.grad, -pr.grad)


@pytest.mark.parametrize("change, words", [
    (lambda a: [a[0][None], *a[1:]], "1-d floating-point"),
    (lambda a: [a[0][:3], *a[1:]], "same length"),
    (lambda a: [x[:0] for x in a], "no pairs"),
    (lambda a: [a[0].long(), *a[1:]], "policy_chosen_logps must be a 1-d floating"),
    (lambda a: [*a[:3], [0.0] * 6], "ref_rejected_logps must be"),
])
def test_dpo_loss_bad_input(change, words):
    with pytest.raises(ValueError, match=words):
        dpo.dpo_loss(*change(_logps(2)))
    with pytest.raises(ValueError, match="beta"):
        dpo.dpo_loss(*_logps(2), beta=-0.1)


def test_implicit_rewards():
    lp, ref = torch.tensor([-1.0, -5.0]), torch.tensor([-2.0, -4.0])
    assert torch.allclose(dpo.implicit_rewards(lp, ref, 0.5), torch.tensor([0.5, -0.5]))
    with pytest.raises(ValueError, match="same shape"):
        dpo.implicit_rewards(lp, ref[:1], 0.5)


# --- summed response log-probabilities ------------------------------------------------------------


def test_response_logps_are_summed_with_gradient_and_match_evaluation(sft):
    model, tok = sft
    prompts = ["Q: What is 3 + 4? A:", "Q: What is the capital of Riland? A:"]
    responses = ["3 + 4 = 7.", "The capital of Riland is a city I do not know."]
    lp = dpo.response_logps(model, tok, prompts, responses)
    assert lp.shape == (2,) and lp.requires_grad
    assert torch.allclose(lp.detach(), sequence_logprobs(model, tok, prompts, responses),
                          atol=1e-5)
    one = dpo.response_logps(model, tok, prompts[1:], responses[1:])  # no padding, same value
    assert torch.allclose(one.detach(), lp[1:].detach(), atol=1e-5)
    with pytest.raises(ValueError, match="same length"):
        dpo.response_logps(model, tok, prompts, responses[:1])
    with pytest.raises(ValueError, match="lists of strings"):
        dpo.response_logps(model, tok, prompts[0], responses[0])


def test_pair_logps_are_the_chosen_and_rejected_sums_without_gradient(sft, pairs):
    model, tok = sft
    chosen, rejected = dpo.pair_logps(model, tok, pairs[:5], batch_size=2)
    assert not chosen.requires_grad and chosen.shape == rejected.shape == (5,)
    expected = sequence_logprobs(model, tok, [c.prompt for c in pairs[:5]],
                                 [c.rejected for c in pairs[:5]])
    assert torch.allclose(rejected, expected, atol=1e-5)
    with pytest.raises(ValueError, match="must be a preferences.Comparison"):
        dpo.pair_logps(model, tok, [("x", "a", "b")])


# --- DPOConfig and train_dpo ---------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("beta", 0.0), ("beta", -1.0), ("beta", float("inf")), ("steps", 0), ("steps", 2.5),
    ("batch_size", 0), ("lr", 0.0), ("max_grad_norm", 0.0), ("seed", -1), ("steps", True),
])
def test_dpo_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=f"DPOConfig.{field}"):
        dpo.DPOConfig(**{field: value})


def test_dpo_config_is_frozen():
    config = dpo.DPOConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.beta = 1.0
    assert dpo.DPOConfig(max_grad_norm=None).max_grad_norm is None


def test_train_dpo_raises_the_margin_and_keeps_the_reference(sft, pairs):
    ref, tok = sft
    policy = copy.deepcopy(ref)
    before = [p.clone() for p in ref.parameters()]
    seen = []
    history = dpo.train_dpo(policy, ref, tok, pairs, dpo.DPOConfig(beta=0.5, steps=12,
                                                                   batch_size=8, lr=3e-4),
                            on_step=seen.append, progress=False)
    assert len(history) == 12 and seen == history
    assert set(history[0]) >= {"step", "loss", "margin", "accuracy", "chosen", "rejected",
                               "grad_norm", "time"}
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)  # pi = pi_ref at first
    assert history[0]["margin"] == pytest.approx(0.0, abs=1e-4)
    assert sum(h["margin"] for h in history[-4:]) / 4 > 0.05
    assert all(torch.equal(a, b) for a, b in zip(before, ref.parameters()))  # frozen reference
    assert not policy.training
    # what the loop logs is what the library computes
    pc, pr = dpo.pair_logps(policy, tok, pairs)
    rc, rr = dpo.pair_logps(ref, tok, pairs)
    margin = (dpo.implicit_rewards(pc, rc, 0.5) - dpo.implicit_rewards(pr, rr, 0.5)).mean()
    assert float(margin) > 0


def test_train_dpo_ctrl_c_keeps_the_finished_steps(sft, pairs):
    ref, tok = sft
    policy = copy.deepcopy(ref)

    def stop(metrics):
        if metrics["step"] == 1:
            raise KeyboardInterrupt

    history = dpo.train_dpo(policy, ref, tok, pairs, dpo.DPOConfig(steps=5, batch_size=4),
                            on_step=stop, progress=False)
    assert len(history) == 2


def test_train_dpo_takes_precomputed_reference_logps(sft, pairs):
    ref, tok = sft
    config = dpo.DPOConfig(steps=3, batch_size=4)
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    h_a = dpo.train_dpo(a, ref, tok, pairs, config, progress=False)
    h_b = dpo.train_dpo(b, ref, tok, pairs, config, progress=False,
                        ref_logps=dpo.pair_logps(ref, tok, pairs))
    assert [h["loss"] for h in h_a] == pytest.approx([h["loss"] for h in h_b], abs=1e-6)
    with pytest.raises(ValueError, match="ref_logps must be two"):
        dpo.train_dpo(b, ref, tok, pairs, config, ref_logps=(torch.zeros(2), torch.zeros(2)))


def test_train_dpo_bad_input(sft, pairs):
    ref, tok = sft
    with pytest.raises(ValueError, match="separate, frozen copy"):
        dpo.train_dpo(ref, ref, tok, pairs, dpo.DPOConfig(steps=1))
    with pytest.raises(ValueError, match="config must be a DPOConfig"):
        dpo.train_dpo(copy.deepcopy(ref), ref, tok, pairs, {"steps": 1})
    with pytest.raises(ValueError, match="comparisons must not be empty"):
        dpo.train_dpo(copy.deepcopy(ref), ref, tok, [], dpo.DPOConfig(steps=1))


def test_load_dpo_model_trains_once_then_loads_from_the_cache(tmp_path, monkeypatch, pairs):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    config = dpo.DPOConfig(steps=2, batch_size=4)
    model, tok, history = dpo.load_dpo_model(pairs, config, device="cpu", progress=False)
    saved = list(tmp_path.glob("dpo-*"))
    assert [p.name for p in saved] == [f"dpo-{dpo.dpo_model_key(pairs, config)}"]
    assert len(history) == 2 and not model.training

    def no_training(*args, **kwargs):
        raise AssertionError("the cached DPO model was trained again")

    monkeypatch.setattr(dpo, "train_dpo", no_training)
    again, _, history_again = dpo.load_dpo_model(pairs, config, device="cpu")
    assert history_again == history
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    # another config or other comparisons: another key
    assert dpo.dpo_model_key(pairs, dpo.DPOConfig(steps=3)) != dpo.dpo_model_key(pairs, config)
    assert dpo.dpo_model_key(pairs[1:], config) != dpo.dpo_model_key(pairs, config)
    with pytest.raises(ValueError, match="config must be a DPOConfig"):
        dpo.load_dpo_model(pairs, {"steps": 2})


def test_logsigmoid_is_what_keeps_the_loss_exact():
    """The loss is -logsigmoid(margin), i.e. softplus(-margin), for every margin."""
    m = torch.tensor([-50.0, -1.0, 0.0, 3.0, 80.0])
    zero = torch.zeros(5)
    got = torch.stack([dpo.dpo_loss(m[i:i + 1], zero[:1], zero[:1], zero[:1], 1.0)
                       for i in range(5)])
    assert torch.allclose(got, F.softplus(-m))
