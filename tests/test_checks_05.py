"""The check of exercise 5.1 accepts two correct REINFORCE steps and names each planted mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.checks import ExerciseError, check_reinforce_step
from course_lib.policy_gradient import reinforce_loss
from course_lib.sampling import sequence_logprobs, token_logprobs


def step_with_library(policy, optimizer, rollout, rewards):
    logprobs = sequence_logprobs(policy, rollout)  # (B, R), 0 on padding
    loss = reinforce_loss(logprobs, rewards.detach(), rollout.response_mask, "mean")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def make_step(baseline=True, detach=True, last_token=False, padding=False, step_first=False,
              zero_grad=True, no_broadcast=False):
    def step(policy, optimizer, rollout, rewards):
        P = rollout.prompt_ids.shape[1]
        lp = token_logprobs(policy, rollout.input_ids, rollout.attention_mask)[:, P - 1:]
        mask = rollout.response_mask.float()
        r = rewards.detach() if detach else rewards
        adv = r - r.mean() if baseline else r
        if last_token:
            idx = mask.sum(1).long() - 1
            per = adv * lp.gather(1, idx[:, None]).squeeze(1)
        elif padding:
            per = adv * lp.sum(1)
        elif no_broadcast:
            per = (adv * lp * mask).sum(1)  # (B,) * (B, R): wrong broadcast
        else:
            per = (adv[:, None] * lp * mask).sum(1)
        loss = -per.mean()
        if zero_grad:
            optimizer.zero_grad()
        if step_first:
            optimizer.step()
            loss.backward()
        else:
            loss.backward()
            optimizer.step()
        return loss.item()
    return step


def test_accepts_two_correct_implementations(capsys):
    check_reinforce_step(step_with_library)
    check_reinforce_step(make_step())
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("flags, name", [
    (dict(baseline=False), "forgot the baseline"),
    (dict(detach=False), "gradient flow into the rewards or the baseline"),
    (dict(last_token=True), "weighted only the last token"),
    (dict(no_broadcast=True), r"advantages\[:, None\]"),
    (dict(padding=True), "counted the padding"),
    (dict(step_first=True), "before loss.backward"),
    (dict(zero_grad=False), "forgot optimizer.zero_grad"),
])
def test_names_each_planted_mistake(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_reinforce_step(make_step(**flags))


@pytest.mark.parametrize("message", ["Exercise 5.1",
                                     # the exercise's own hint mentions "broadcast", a word the
                                     # check looks for in shape errors
                                     "Exercise 5.1: advantages broadcast over the tokens"])
def test_stub_error_passes_through(message):
    def stub(*args):
        raise NotImplementedError(message)
    with pytest.raises(NotImplementedError, match="Exercise 5.1"):
        check_reinforce_step(stub)


def test_loss_without_gradient_is_named():
    def no_grad_step(policy, optimizer, rollout, rewards):
        adv = rewards.detach() - rewards.detach().mean()
        loss = -(adv[:, None] * rollout.logprobs * rollout.response_mask).sum(1).mean()
        loss.backward()
        return loss
    with pytest.raises(ExerciseError, match="no gradient"):
        check_reinforce_step(no_grad_step)
    assert torch.is_grad_enabled()
