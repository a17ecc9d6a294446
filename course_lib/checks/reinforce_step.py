"""Check of exercise 5.1 (lesson 05): one REINFORCE update step on a language model.

The student writes ``reinforce_step(policy, optimizer, rollout, rewards) -> loss``. The check
gives it a fixed sampled batch (so sampling cannot differ), a plain SGD optimizer (so the update
is exactly ``-lr * gradient`` and every scale shows), and a float64 copy of the course model; it
reads the gradient the student applied back from the change of the weights and compares it with
the reference and with the gradient each planted mistake would give.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..sampling import Rollout, sample, token_logprobs
from .common import ExerciseError, diagnose, passed

EXERCISE = "Exercise 5.1"
LR = 0.05
NOT_DETACHED = ("let a gradient flow into the rewards or the baseline: detach them, they are "
                "constants for the policy gradient (here the rewards came from a model with "
                "weights of its own, like the reward model of lesson 07)")


def reference_loss(policy, rollout: Rollout, rewards: torch.Tensor, variant: str = "ok"
                   ) -> torch.Tensor:
    """The REINFORCE loss of the exercise, or the loss a planted mistake would compute.

    loss = -(1/B) sum_i (r_i - mean_j r_j) sum_t mask_it log pi_theta(y_it | x_i, y_i,<t)
    """
    P = rollout.prompt_ids.shape[1]
    logprobs = token_logprobs(policy, rollout.input_ids, rollout.attention_mask,
                              rollout.temperature)[:, P - 1:]  # (B, R) incl. padding
    mask = rollout.response_mask.to(logprobs.dtype)  # (B, R)
    r = rewards.detach().to(logprobs.dtype)
    advantages = r if variant == "no_baseline" else r - r.mean()  # (B,)
    if variant == "padding":
        return -(advantages * logprobs.sum(1)).mean()
    if variant == "last_token":  # the reward weights only the last response token (<eos>)
        last = mask.sum(1).long() - 1  # (B,)
        return -(advantages * logprobs.gather(1, last[:, None]).squeeze(1)).mean()
    if variant == "token_mean":
        return -(advantages[:, None] * logprobs * mask).mean()
    if variant == "token_average":
        return -(advantages[:, None] * logprobs * mask).sum() / mask.sum()
    return -(advantages[:, None] * logprobs * mask).sum(1).mean()


def _flat_grad(policy, loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(policy.parameters()), allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, policy.parameters())])


def _flat_params(policy) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).clone()


def make_case(seed: int = 0, n_prompts: int = 6, n_samples: int = 2):
    """A float64 copy of the course model and a fixed sampled batch of addition answers, with
    rewards that carry a gradient (as a reward model's would). Returns (policy, rollout, rewards,
    reward_source)."""
    from .. import world as W
    from ..models import load_base_model

    policy, tokenizer = load_base_model(device="cpu")
    policy = policy.double()
    pairs = W.addition_problems("train")[seed * 37: seed * 37 + n_prompts]
    prompts = [W.addition_question(a, b) for a, b in pairs for _ in range(n_samples)]
    rollout = sample(policy, tokenizer, prompts, max_new_tokens=8,
                     generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1)
    source = torch.rand(len(prompts), generator=g, dtype=torch.float64).requires_grad_()
    rewards = (source > 0.5).double() + 0.3 * source  # (B,), varied, with a gradient
    return policy, rollout, rewards, source


def check_reinforce_step(fn: Callable) -> None:
    """Exercise 5.1: ``fn(policy, optimizer, rollout, rewards)`` does one REINFORCE update.

    Runs two steps on the same fixed batch with ``torch.optim.SGD(lr=0.05)`` and compares the
    loss and the update of every weight with the reference, naming the mistake when one matches:
    no baseline, baseline (or rewards) not detached, the reward not spread over every response
    token, padding counted, optimizer.step() before loss.backward(), no zero_grad.
    """
    for seed in (0, 1):
        policy, rollout, rewards, source = make_case(seed)
        theta0 = _flat_params(policy)
        expected = {v: _flat_grad(policy, reference_loss(policy, rollout, rewards, v))
                    for v in ("ok", "no_baseline", "padding", "last_token", "token_mean",
                              "token_average")}
        expected_loss = reference_loss(policy, rollout, rewards).detach()
        optimizer = torch.optim.SGD(policy.parameters(), lr=LR)
        try:
            loss = fn(policy, optimizer, rollout, rewards)
        except NotImplementedError:  # the exercise not done yet (a RuntimeError too)
            raise
        except RuntimeError as err:
            if "must match the size" in str(err) or "broadcast" in str(err):
                raise ExerciseError(
                    f"{EXERCISE}: not yet right. Shapes do not fit ({err}). The rewards are "
                    "(B,) and the log-probabilities (B, R): spread each response's advantage "
                    "over its tokens with advantages[:, None].") from None
            if "does not require grad" in str(err):
                raise ExerciseError(
                    f"{EXERCISE}: not yet right. The loss has no gradient: rollout.logprobs "
                    "were recorded while sampling, under no_grad. Recompute the log-probs "
                    "with one forward pass (token_logprobs or sequence_logprobs).") from None
            raise
        if not isinstance(loss, (torch.Tensor, float)) or torch.as_tensor(loss).numel() != 1:
            raise ExerciseError(f"{EXERCISE}: return the loss (a scalar), got "
                                f"{type(loss).__name__}")
        applied = (theta0 - _flat_params(policy)) / LR  # the gradient the step used
        mistakes = {
            "called optimizer.step() before loss.backward() (or never stepped): the first "
            "update used no gradient at all": torch.zeros_like(applied),
            "forgot the baseline: subtract the batch mean of the rewards":
                expected["no_baseline"],
            "counted the padding after <eos>: multiply the log-probabilities by "
            "rollout.response_mask": expected["padding"],
            "weighted only the last token by the reward: every token of a response gets its "
            "advantage (advantages[:, None] * logprobs * mask)": expected["last_token"],
            "averaged over the tokens too: sum the log-probs over a response's tokens, then "
            "take the mean over the B responses": expected["token_mean"],
            "divided by the number of tokens: sum the log-probs over a response's tokens, then "
            "take the mean over the B responses": expected["token_average"],
        }
        diagnose(f"{EXERCISE} (the update of the weights after one step)", applied,
                 expected["ok"], mistakes, atol=1e-6, rtol=1e-4)
        if source.grad is not None and bool(source.grad.abs().max() > 0):
            raise ExerciseError(f"{EXERCISE}: not yet right. It looks like you {NOT_DETACHED}.")
        diagnose(f"{EXERCISE} (the loss returned)",
                 torch.as_tensor(loss).detach().reshape(()).double(), expected_loss, {
                     "returned the objective instead of the loss (flip the sign)":
                         -expected_loss}, atol=1e-8, rtol=1e-6)
        # a second step on the same batch: the gradient of the new weights, not the sum of two
        theta1 = _flat_params(policy)
        second = _flat_grad(policy, reference_loss(policy, rollout, rewards))
        fn(policy, optimizer, rollout, rewards)
        applied2 = (theta1 - _flat_params(policy)) / LR
        diagnose(f"{EXERCISE} (the update of the second step)", applied2, second, {
            "forgot optimizer.zero_grad(): the gradients of both steps added up":
                second + expected["ok"],
            "called optimizer.step() before loss.backward(): each step applies the gradient "
            "of the step before": expected["ok"]}, atol=1e-6, rtol=1e-4)
    passed(EXERCISE, "two updates on two fixed batches match the reference weight for weight")


__all__ = ["check_reinforce_step", "make_case", "reference_loss"]
