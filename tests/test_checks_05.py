"""The check of exercise 5.1 accepts the library's reinforce_step and another correct step, and
names each planted mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.checks import ExerciseError, bands, check_optimal_style, check_reinforce_step
from course_lib.policy_gradient import reinforce_step


def make_step(baseline=True, detach=True, last_token=False, padding=False, step_first=False,
              zero_grad=True, no_broadcast=False, clip=True, add_baseline=False,
              clip_after=False, norm_after=False):
    """A hand-written step: right with the defaults, one planted mistake per flag."""
    def step(policy, optimizer, logprobs, rewards, mask, b, max_grad_norm=None):
        r, bb = (rewards.detach(), b.detach()) if detach else (rewards, b)
        adv = r + bb if add_baseline else r - bb if baseline else r
        if last_token:
            idx = mask.sum(1).long() - 1
            per = adv * logprobs.gather(1, idx[:, None]).squeeze(1)
        elif padding:
            per = adv * logprobs.sum(1)
        elif no_broadcast:
            per = (adv * logprobs * mask).sum(1)  # (B,) * (B, R): wrong broadcast
        else:
            per = (adv[:, None] * logprobs * mask).sum(1)
        loss = -per.mean()
        limit = max_grad_norm if (clip and max_grad_norm is not None) else float("inf")
        if zero_grad:
            optimizer.zero_grad()
        if step_first:
            optimizer.step()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), limit)
        elif clip_after:
            loss.backward()
            optimizer.step()
            norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), limit)
        else:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), limit)
            optimizer.step()
        if norm_after:
            norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), float("inf"))
        return loss, norm.item()
    return step


def test_accepts_the_library_step_and_another_correct_one(capsys):
    check_reinforce_step(reinforce_step)  # the function train_reinforce calls
    check_reinforce_step(make_step())
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("flags, name", [
    (dict(baseline=False), "forgot the baseline"),
    (dict(add_baseline=True), "added the baseline"),
    (dict(detach=False), "gradient flow into the rewards or the baseline"),
    (dict(last_token=True), "weighted only the last token"),
    (dict(no_broadcast=True), r"advantages\[:, None\]"),
    (dict(padding=True), "counted the padding"),
    (dict(step_first=True), "before loss.backward"),
    (dict(zero_grad=False), "forgot optimizer.zero_grad"),
    (dict(clip=False), "did not clip the gradient"),
    (dict(clip_after=True), "did not clip the gradient"),
    (dict(norm_after=True), "returned the norm after clipping"),
])
def test_names_each_planted_mistake(flags, name):
    with pytest.raises(ExerciseError, match=name):
        check_reinforce_step(make_step(**flags))


def test_a_flipped_sign_is_named():
    def flipped(policy, optimizer, logprobs, rewards, mask, b, max_grad_norm=None):
        loss, norm = reinforce_step(policy, optimizer, -logprobs, rewards, mask, b,
                                    max_grad_norm)
        return loss, norm
    with pytest.raises(ExerciseError, match="flipped the sign"):
        check_reinforce_step(flipped)


@pytest.mark.parametrize("message", ["Exercise 5.1",
                                     # the exercise's own hint mentions "broadcast", a word the
                                     # check looks for in shape errors
                                     "Exercise 5.1: advantages broadcast over the tokens"])
def test_stub_error_passes_through(message):
    def stub(*args):
        raise NotImplementedError(message)
    with pytest.raises(NotImplementedError, match="Exercise 5.1"):
        check_reinforce_step(stub)


def test_a_loss_without_gradient_and_a_wrong_return_are_named():
    def detached(policy, optimizer, logprobs, rewards, mask, b, max_grad_norm=None):
        adv = rewards.detach() - b.detach()
        loss = -(adv[:, None] * logprobs.detach() * mask).sum(1).mean()
        loss.backward()
        return loss, 0.0
    with pytest.raises(ExerciseError, match="no gradient"):
        check_reinforce_step(detached)
    assert torch.is_grad_enabled()

    def loss_only(*args):
        return reinforce_step(*args)[0]
    with pytest.raises(ExerciseError, match=r"return the pair \(loss, grad_norm\)"):
        check_reinforce_step(loss_only)


# --- exercise 5.2: the best answer style under a reward table ------------------------------------

def _optimal_loop(p, table):
    best_style, best_value = None, None
    for style in ("abstain", "hedged", "confident"):  # cautious first: a tie keeps it
        value = p * table[(style, True)] + (1 - p) * table[(style, False)]
        if best_value is None or value > best_value + 1e-12:
            best_style, best_value = style, value
    return best_style


def _optimal_sorted(p, table):
    order = {"abstain": 0, "hedged": 1, "confident": 2}
    values = {s: round(p * table[(s, True)] + (1 - p) * table[(s, False)], 12) for s in order}
    return sorted(values, key=lambda s: (-values[s], order[s]))[0]


@pytest.mark.parametrize("fn", [_optimal_loop, _optimal_sorted])
def test_optimal_style_accepts_correct_variants(fn):
    check_optimal_style(fn)


@pytest.mark.parametrize("mistake, message", [
    (bands._raw_rewards, "compared the rewards of a right answer"),
    (bands._bold_ties, "broke ties towards the bolder style"),
    (bands._no_abstain, "left out the option of saying"),
    (lambda p, table: "confident", "not yet right"),
])
def test_optimal_style_names_each_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        check_optimal_style(mistake)


def test_optimal_style_stub_error_passes_through():
    def stub(p, table):
        raise NotImplementedError("Exercise 5.2")
    with pytest.raises(NotImplementedError, match="Exercise 5.2"):
        check_optimal_style(stub)
