"""Exercise checks of lesson 07: each planted mistake is named; correct variants pass."""

from __future__ import annotations

import pytest
import torch

from course_lib import reward_model as RM
from course_lib.checks import ExerciseError, check_kl_penalized_rewards, check_reward_model_scores

# --- Exercise 7.1 --------------------------------------------------------------------------------


def scores_ok(rm, tok, prompts, responses):
    rm.eval()
    ids, mask = RM.encode(tok, prompts, responses)
    with torch.no_grad():
        return rm(input_ids=ids, attention_mask=mask).logits[:, 0]


def scores_one_by_one(rm, tok, prompts, responses):  # written differently: a loop, inference_mode
    rm.eval()
    out = []
    with torch.inference_mode():
        for x, y in zip(prompts, responses):
            ids, mask = RM.encode(tok, [x], [y])
            out.append(rm(input_ids=ids, attention_mask=mask).logits.squeeze())
    return torch.stack(out)


def scores_train_mode(rm, tok, prompts, responses):
    ids, mask = RM.encode(tok, prompts, responses)
    with torch.no_grad():
        return rm(input_ids=ids, attention_mask=mask).logits[:, 0]


def scores_with_grad(rm, tok, prompts, responses):
    rm.eval()
    ids, mask = RM.encode(tok, prompts, responses)
    return rm(input_ids=ids, attention_mask=mask).logits[:, 0]


def scores_2d(rm, tok, prompts, responses):
    rm.eval()
    ids, mask = RM.encode(tok, prompts, responses)
    with torch.no_grad():
        return rm(input_ids=ids, attention_mask=mask).logits


def scores_library(rm, tok, prompts, responses):  # the library's own scorer is a right answer
    return RM.score(rm, tok, prompts, responses)


@pytest.mark.parametrize("fn", [scores_ok, scores_one_by_one, scores_library])
def test_reward_model_scores_correct_variants_pass(fn, capsys):
    check_reward_model_scores(fn)
    assert "Exercise 7.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (scores_train_mode, "left the reward model in train mode"),
    (scores_with_grad, "carry a gradient"),
    (scores_2d, "logits of shape (B, 1)"),
    (lambda rm, tok, x, y: torch.zeros(len(x)), "never called"),
])
def test_reward_model_scores_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError) as err:
        check_reward_model_scores(fn)
    assert words in str(err.value)


def test_reward_model_scores_stub_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 7.1: ...")

    with pytest.raises(NotImplementedError):
        check_reward_model_scores(stub)


# --- Exercise 7.2 --------------------------------------------------------------------------------


def kl_ok(scores, lp, ref, mask, beta):
    r = -beta * (lp - ref) * mask
    last = mask.sum(1).long() - 1
    r[torch.arange(len(scores)), last] += scores
    return r


def kl_loop(scores, lp, ref, mask, beta):  # written differently: row by row
    out = torch.zeros_like(lp)
    for i in range(lp.shape[0]):
        n = int(mask[i].sum())
        out[i, :n] = -beta * (lp[i, :n] - ref[i, :n])
        out[i, n - 1] = out[i, n - 1] + scores[i]
    return out


def _last(mask):
    return torch.arange(mask.shape[0]), mask.sum(1).long() - 1


def kl_wrong_sign(scores, lp, ref, mask, beta):
    r = beta * (lp - ref) * mask
    r[_last(mask)] += scores
    return r


def kl_at_end(scores, lp, ref, mask, beta):
    r = torch.zeros_like(lp)
    r[_last(mask)] = scores - beta * ((lp - ref) * mask).sum(1)
    return r


def kl_whole_at_every_token(scores, lp, ref, mask, beta):
    r = -beta * ((lp - ref) * mask).sum(1, keepdim=True) * mask
    r[_last(mask)] += scores
    return r


def kl_score_everywhere(scores, lp, ref, mask, beta):
    return (-beta * (lp - ref) + scores[:, None]) * mask


def kl_last_column(scores, lp, ref, mask, beta):
    r = -beta * (lp - ref) * mask
    r[:, -1] += scores
    return r


def kl_no_mask(scores, lp, ref, mask, beta):
    r = -beta * (lp - ref)
    r[_last(mask)] += scores
    return r


def kl_no_beta(scores, lp, ref, mask, beta):
    r = -(lp - ref) * mask
    r[_last(mask)] += scores
    return r


@pytest.mark.parametrize("fn", [kl_ok, kl_loop])
def test_kl_penalized_rewards_correct_variants_pass(fn, capsys):
    check_kl_penalized_rewards(fn)
    assert "Exercise 7.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (kl_wrong_sign, "KL with the wrong sign"),
    (kl_at_end, "put the whole response's KL at the last token"),
    (kl_whole_at_every_token, "KL of the whole response at every token"),
    (kl_score_everywhere, "score at every token"),
    (kl_last_column, "last column (R - 1)"),
    (kl_no_mask, "forgot the mask"),
    (kl_no_beta, "forgot beta"),
])
def test_kl_penalized_rewards_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError) as err:
        check_kl_penalized_rewards(fn)
    assert words in str(err.value)


def test_kl_penalized_rewards_stub_passes_through():
    def stub(*args):
        raise NotImplementedError("Exercise 7.2: ...")

    with pytest.raises(NotImplementedError):
        check_kl_penalized_rewards(stub)
