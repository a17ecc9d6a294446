"""Exercise checks of lesson 10: each planted mistake is named; correct variants pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks import (
    ExerciseError,
    check_dpo_loss,
    check_kl_optimal_policy,
    check_summed_logps,
)

# --- Exercise 10.1: the DPO loss -----------------------------------------------------------------


def loss_ok(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def loss_softplus(pc, pr, rc, rr, beta=0.1):  # written differently: rewards first, softplus
    r_chosen, r_rejected = beta * (pc - rc), beta * (pr - rr)
    return F.softplus(r_rejected - r_chosen).sum() / len(pc)


def loss_wrong_ref_sign(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * ((pc + rc) - (pr + rr))).mean()


def loss_beta_outside(pc, pr, rc, rr, beta=0.1):
    return -(beta * F.logsigmoid((pc - rc) - (pr - rr))).mean()


def loss_no_reference(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * (pc - pr)).mean()


def loss_sigmoid(pc, pr, rc, rr, beta=0.1):
    return -torch.sigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def loss_unstable(pc, pr, rc, rr, beta=0.1):
    return -torch.log(torch.sigmoid(beta * ((pc - rc) - (pr - rr)))).mean()


def loss_swapped(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * ((pr - rr) - (pc - rc))).mean()


def loss_sum(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum()


def loss_no_minus(pc, pr, rc, rr, beta=0.1):
    return F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def loss_no_beta(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid((pc - rc) - (pr - rr)).mean()


@pytest.mark.parametrize("fn", [loss_ok, loss_softplus])
def test_dpo_loss_correct_variants_pass(fn, capsys):
    check_dpo_loss(fn)
    assert "Exercise 10.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (loss_wrong_ref_sign, "reference terms the wrong sign"),
    (loss_beta_outside, "beta outside the sigmoid"),
    (loss_no_reference, "left out the reference model"),
    (loss_sigmoid, "sigmoid instead of log-sigmoid"),
    (loss_unstable, "log(sigmoid(margin)) in two steps"),
    (loss_swapped, "swapped chosen and rejected"),
    (loss_sum, "summed over the pairs"),
    (loss_no_minus, "forgot the minus sign"),
    (loss_no_beta, "forgot beta"),
])
def test_dpo_loss_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError) as err:
        check_dpo_loss(fn)
    assert words in str(err.value)


def test_dpo_loss_stub_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 10.1: ...")

    with pytest.raises(NotImplementedError):
        check_dpo_loss(stub)


# --- Exercise 10.2: the KL-optimal policy -------------------------------------------------------


def policy_ok(ref_probs, rewards, beta):
    return torch.softmax(ref_probs.log() + rewards / beta, dim=-1)


def policy_logsumexp(ref_probs, rewards, beta):  # written differently: log Z by hand
    logits = torch.log(ref_probs) + rewards / beta
    return torch.exp(logits - torch.logsumexp(logits, dim=-1, keepdim=True))


def policy_times_beta(ref_probs, rewards, beta):
    return torch.softmax(ref_probs.log() + rewards * beta, dim=-1)


def policy_no_reference(ref_probs, rewards, beta):
    return torch.softmax(rewards / beta, dim=-1)


def policy_unnormalized(ref_probs, rewards, beta):
    return ref_probs * torch.exp(rewards / beta)


def policy_wrong_sign(ref_probs, rewards, beta):
    return torch.softmax(ref_probs.log() - rewards / beta, dim=-1)


def policy_probs_not_logs(ref_probs, rewards, beta):
    return torch.softmax(ref_probs + rewards / beta, dim=-1)


def policy_wrong_dim(ref_probs, rewards, beta):
    return torch.softmax(ref_probs.log() + rewards / beta, dim=0)


def policy_overflows(ref_probs, rewards, beta):
    tilted = ref_probs * torch.exp(rewards / beta)
    return tilted / tilted.sum(-1, keepdim=True)


def policy_zero_ignored(ref_probs, rewards, beta):  # clamps pi_ref away from 0
    return torch.softmax(ref_probs.clamp(min=1e-300).log().clamp(min=-30) + rewards / beta, -1)


@pytest.mark.parametrize("fn", [policy_ok, policy_logsumexp])
def test_kl_optimal_policy_correct_variants_pass(fn, capsys):
    check_kl_optimal_policy(fn)
    assert "Exercise 10.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (policy_times_beta, "multiplied the reward by beta"),
    (policy_no_reference, "left out the reference"),
    (policy_unnormalized, "forgot to normalize"),
    (policy_wrong_sign, "tilted away from reward"),
    (policy_probs_not_logs, "added the probabilities instead of their logs"),
    (policy_wrong_dim, "wrong dimension"),
    (policy_overflows, "exp(1000) overflows"),
])
def test_kl_optimal_policy_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError) as err:
        check_kl_optimal_policy(fn)
    assert words in str(err.value)


def test_kl_optimal_policy_check_catches_probability_where_pi_ref_is_zero():
    with pytest.raises(ExerciseError, match="not yet right"):
        check_kl_optimal_policy(policy_zero_ignored)


def test_kl_optimal_policy_stub_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 10.2: ...")

    with pytest.raises(NotImplementedError):
        check_kl_optimal_policy(stub)


# --- Exercise 10.3: summed log-probabilities ----------------------------------------------------


def summed_ok(token_logps, mask):
    return (token_logps * mask).sum(dim=1)


def summed_loop(token_logps, mask):  # written differently: row by row, with where
    return torch.stack([torch.where(m > 0, lp, torch.zeros_like(lp)).sum()
                        for lp, m in zip(token_logps, mask)])


@pytest.mark.parametrize("fn", [summed_ok, summed_loop])
def test_summed_logps_correct_variants_pass(fn, capsys):
    check_summed_logps(fn)
    assert "Exercise 10.3 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (lambda lp, m: (lp * m).sum(1) / m.sum(1), "averaged over the tokens"),
    (lambda lp, m: lp.sum(1), "forgot the mask"),
    (lambda lp, m: lp * m, "per-token log-probabilities"),
    (lambda lp, m: (lp * m).sum(0), "summed over the batch"),
])
def test_summed_logps_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError) as err:
        check_summed_logps(fn)
    assert words in str(err.value)


def test_summed_logps_stub_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 10.3: ...")

    with pytest.raises(NotImplementedError):
        check_summed_logps(stub)
