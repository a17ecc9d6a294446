"""Check of exercise 5.1: one REINFORCE update, the very step ``train_reinforce`` takes.

The student writes ``reinforce_step(policy, optimizer, logprobs, rewards, mask, baseline,
max_grad_norm=None) -> (loss, grad_norm)``: the contract of
:func:`course_lib.policy_gradient.reinforce_step`, which
:func:`~course_lib.policy_gradient.train_reinforce` calls at every step. The check gives it a
float64 copy of the course model, a fixed sampled batch with the log-probs of its tokens (with
gradient, and junk on the padding), rewards and a baseline that carry a gradient (as a reward
model's would) and a plain SGD optimizer (so the update is exactly ``-lr * gradient`` and every
scale shows). It runs the library's ``reinforce_step`` on an identical copy, compares the change
of every weight, the loss and the gradient norm, and names the planted mistake whose update the
student's matches. One case clips the gradient, one does not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from ..policy_gradient import reinforce_step
from ..sampling import Rollout, sample, token_logprobs
from .common import ExerciseError, diagnose, passed

EXERCISE = "Exercise 5.1"
LR = 0.05
NOT_DETACHED = ("let a gradient flow into the rewards or the baseline: detach them, they are "
                "constants for the policy gradient (here the rewards came from a model with "
                "weights of its own, like the reward model of lesson 07)")
# (seed, prompts, samples per prompt, baseline, clip the gradient to this share of its norm)
CASES = ((0, 6, 2, "mean", None), (1, 4, 3, "loo", 0.5))


def raw_logprobs(policy, rollout: Rollout) -> torch.Tensor:
    """log pi_theta of every response position (B, R), with gradient; junk on the padding."""
    P = rollout.prompt_ids.shape[1]
    return token_logprobs(policy, rollout.input_ids, rollout.attention_mask,
                          rollout.temperature)[:, P - 1:]


def variant_loss(logprobs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
                 baseline: torch.Tensor, variant: str = "ok") -> torch.Tensor:
    """The REINFORCE loss, or the loss a planted mistake would compute.

    loss = -(1/B) sum_i (r_i - b_i) sum_t mask_it log pi_theta(y_it | x_i, y_i,<t)
    """
    r, b = rewards.detach(), baseline.detach()
    advantages = {"no_baseline": r, "added_baseline": r + b}.get(variant, r - b)  # (B,)
    if variant == "padding":
        return -(advantages * logprobs.sum(1)).mean()
    if variant == "last_token":  # the reward weights only the last response token (<eos>)
        last = mask.sum(1).long() - 1  # (B,)
        return -(advantages * logprobs.gather(1, last[:, None]).squeeze(1)).mean()
    if variant == "token_mean":
        return -(advantages[:, None] * logprobs * mask).mean()
    if variant == "token_average":
        return -(advantages[:, None] * logprobs * mask).sum() / mask.sum()
    loss = -(advantages[:, None] * logprobs * mask).sum(1).mean()
    return -loss if variant == "sign" else loss


VARIANTS = {
    "no_baseline": "forgot the baseline: subtract it from the rewards, A_i = r_i - b_i",
    "added_baseline": "added the baseline instead of subtracting it: A_i = r_i - b_i",
    "sign": "flipped the sign: the loss is MINUS the objective, so that minimizing it climbs J",
    "padding": "counted the padding after <eos>: multiply the log-probabilities by the mask",
    "last_token": "weighted only the last token by the reward: every token of a response gets "
                  "its advantage (advantages[:, None] * logprobs * mask)",
    "token_mean": "averaged over the tokens too: sum the log-probs over a response's tokens, "
                  "then take the mean over the B responses",
    "token_average": "divided by the number of tokens: sum the log-probs over a response's "
                     "tokens, then take the mean over the B responses",
}


def _flat_grad(policy, loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(policy.parameters()), allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, policy.parameters())])


def _flat_params(policy) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).clone()


def _clip(g: torch.Tensor, max_norm: float | None) -> torch.Tensor:
    """What ``clip_grad_norm_`` does to a gradient."""
    if max_norm is None:
        return g
    return g * min(1.0, max_norm / (float(g.norm()) + 1e-6))


def make_case(seed: int = 0, n_prompts: int = 6, n_samples: int = 2, baseline: str = "mean"):
    """A float64 copy of the course model, a fixed sampled batch of addition answers, rewards
    that carry a gradient (as a reward model's would) and a baseline computed from them (the
    batch mean, or leave-one-out among each prompt's samples), with its gradient. Returns
    ``(policy, rollout, rewards, baseline, reward_source)``."""
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
    if baseline == "mean":
        b = rewards.mean().expand(len(prompts))
    else:  # the mean of the other samples of the same prompt
        groups = rewards.view(n_prompts, n_samples)
        b = ((groups.sum(1, keepdim=True) - groups) / (n_samples - 1)).reshape(-1)
    return policy, rollout, rewards, b, source


def _call(fn: Callable, policy, optimizer, rollout, rewards, baseline, max_grad_norm):
    mask = rollout.response_mask.double()
    try:
        out = fn(policy, optimizer, raw_logprobs(policy, rollout), rewards, mask, baseline,
                 max_grad_norm)
    except NotImplementedError:  # the exercise not done yet (a RuntimeError too)
        raise
    except RuntimeError as err:
        if "must match the size" in str(err) or "broadcast" in str(err):
            raise ExerciseError(
                f"{EXERCISE}: not yet right. Shapes do not fit ({err}). The rewards are (B,) "
                "and the log-probabilities (B, R): spread each response's advantage over its "
                "tokens with advantages[:, None].") from None
        if "does not require grad" in str(err):
            raise ExerciseError(
                f"{EXERCISE}: not yet right. The loss has no gradient: compute it from logprobs "
                "without detaching them (only the rewards and the baseline are "
                "detached).") from None
        raise
    if not isinstance(out, tuple) or len(out) != 2:
        raise ExerciseError(f"{EXERCISE}: return the pair (loss, grad_norm), got "
                            f"{type(out).__name__}")
    for name, value in zip(("loss", "grad_norm"), out):
        if not isinstance(value, (torch.Tensor, float)) or torch.as_tensor(value).numel() != 1:
            raise ExerciseError(f"{EXERCISE}: {name} must be a number (a scalar), got "
                                f"{type(value).__name__}")
    return tuple(torch.as_tensor(v).detach().reshape(()).double() for v in out)


def check_reinforce_step(fn: Callable) -> None:
    """Exercise 5.1: ``fn(policy, optimizer, logprobs, rewards, mask, baseline, max_grad_norm)``
    does one REINFORCE update and returns ``(loss, grad_norm)``, like
    :func:`course_lib.policy_gradient.reinforce_step`.

    Two steps on each of two fixed batches with ``torch.optim.SGD(lr=0.05)``, without and with
    clipping; the loss, the gradient norm and the update of every weight must match the
    library's step. Named mistakes: no baseline (or added), rewards or baseline not detached,
    the sign, the reward not spread over every response token, padding counted, tokens
    averaged, no clipping, optimizer.step() before loss.backward(), no zero_grad.
    """
    for seed, n_prompts, n_samples, kind, clip_share in CASES:
        policy, rollout, rewards, baseline, source = make_case(seed, n_prompts, n_samples, kind)
        mask = rollout.response_mask.double()
        library = copy.deepcopy(policy)
        theta0 = _flat_params(policy)
        grads = {v: _flat_grad(policy, variant_loss(raw_logprobs(policy, rollout), rewards, mask,
                                                    baseline, v))
                 for v in ("ok", *VARIANTS)}
        max_norm = None if clip_share is None else clip_share * float(grads["ok"].norm())
        # the library's step on an identical copy: what the update must be
        lib_opt = torch.optim.SGD(library.parameters(), lr=LR)
        lib_loss, lib_norm = (t.detach().double() for t in reinforce_step(
            library, lib_opt, raw_logprobs(library, rollout), rewards, mask, baseline,
            max_norm))
        expected = (theta0 - _flat_params(library)) / LR
        optimizer = torch.optim.SGD(policy.parameters(), lr=LR)
        loss, grad_norm = _call(fn, policy, optimizer, rollout, rewards, baseline, max_norm)
        applied = (theta0 - _flat_params(policy)) / LR  # the gradient the step used
        mistakes = {"called optimizer.step() before loss.backward() (or never stepped): the "
                    "first update used no gradient at all": torch.zeros_like(applied)}
        mistakes.update({text: _clip(grads[v], max_norm) for v, text in VARIANTS.items()})
        if max_norm is not None:
            mistakes["did not clip the gradient (or clipped it after optimizer.step()): clip "
                     "between backward() and step(), torch.nn.utils.clip_grad_norm_(policy."
                     "parameters(), max_grad_norm)"] = grads["ok"]
        diagnose(f"{EXERCISE} (the update of the weights after one step)", applied, expected,
                 mistakes, atol=1e-6, rtol=1e-4)
        if source.grad is not None and bool(source.grad.abs().max() > 0):
            raise ExerciseError(f"{EXERCISE}: not yet right. It looks like you {NOT_DETACHED}.")
        diagnose(f"{EXERCISE} (the loss returned)", loss, lib_loss, {
            "returned the objective instead of the loss (flip the sign)": -lib_loss},
            atol=1e-8, rtol=1e-6)
        clipped = {} if max_norm is None else {
            "returned the norm after clipping: return the norm clip_grad_norm_ returns, the "
            "one before clipping": torch.tensor(max_norm, dtype=torch.float64)}
        diagnose(f"{EXERCISE} (the gradient norm returned)", grad_norm, lib_norm, clipped,
                 atol=1e-6, rtol=1e-4)
        # a second step on the same batch: the gradient of the new weights, not the sum of two
        theta1 = _flat_params(policy)
        second = _flat_grad(policy, variant_loss(raw_logprobs(policy, rollout), rewards, mask,
                                                 baseline))
        reinforce_step(library, lib_opt, raw_logprobs(library, rollout), rewards, mask, baseline,
                       max_norm)
        expected2 = (theta1 - _flat_params(library)) / LR
        _call(fn, policy, optimizer, rollout, rewards, baseline, max_norm)
        applied2 = (theta1 - _flat_params(policy)) / LR
        diagnose(f"{EXERCISE} (the update of the second step)", applied2, expected2, {
            "forgot optimizer.zero_grad(): the gradients of both steps added up":
                _clip(second + grads["ok"], max_norm),
            "called optimizer.step() before loss.backward(): each step applies the gradient "
            "of the step before": _clip(grads["ok"], max_norm)}, atol=1e-6, rtol=1e-4)
    passed(EXERCISE, "two updates on each of two fixed batches (one clipped) match the "
                     "library's reinforce_step weight for weight")


__all__ = ["check_reinforce_step", "make_case", "raw_logprobs", "variant_loss"]
