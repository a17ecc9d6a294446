"""Checks of the SFT loss, token by token and batched with masking (exercises 1.1 and 1.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..sft import response_token_nll, sft_loss
from .common import ExerciseError, diagnose, passed, run_cases

# The mistakes both exercises can make, named once.
FORGOT_SHIFT = ("forgot the shift: the logits at position t predict the token at t + 1, so "
                "compare logits[:-1] with the tokens [1:]")
WRONG_SHIFT = ("shifted the wrong way: pair logits[:-1] with the tokens [1:] (not logits[1:] "
               "with tokens[:-1])")
WRONG_SIGN = "flipped the sign: the loss is the NEGATIVE log-likelihood, -log pi(y_t | x, y_<t)"
SOFTMAX = ("used softmax probabilities instead of log-softmax: the loss needs log pi, "
           "i.e. F.log_softmax(logits, dim=-1)")
RAW_LOGITS = ("used the raw logits instead of log-probabilities: normalize them first with "
              "F.log_softmax(logits, dim=-1)")


def _token_logp(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] along the last axis."""
    return F.log_softmax(logits.double(), -1).gather(-1, targets[..., None]).squeeze(-1)


# --- Exercise 1.1: -log pi(y_t | x, y_<t), token by token -----------------------------


def check_response_token_nll(fn: Callable) -> None:
    """Exercise 1.1: ``fn(logits, input_ids, n_prompt)`` -> (L,) -log pi(y_t | x, y_<t) of the
    L = T - n_prompt response tokens of one sequence (logits (T, V), input_ids (T,))."""
    g = torch.Generator().manual_seed(11)
    cases = []
    for T, V, n_prompt in ((9, 13, 4), (12, 17, 7), (6, 5, 2), (8, 11, 1)):
        logits = torch.randn(T, V, generator=g) * 2  # (T, V)
        ids = torch.randint(0, V, (T,), generator=g)  # (T,)
        right = response_token_nll(logits, ids, n_prompt).double()
        shifted = logits[n_prompt - 1:-1]  # (L, V): the positions that predict y_1..y_L
        y = ids[n_prompt:]
        mistakes = {
            FORGOT_SHIFT: -_token_logp(logits[n_prompt:], y),
            "included the prompt tokens: only the response y_1..y_L is imitated (the "
            "prompt x is given), so return the last T - n_prompt terms":
                -_token_logp(logits[:-1], ids[1:]),
            "started one token late: the first response token is predicted by the LAST "
            "prompt position, logits[n_prompt - 1]": -_token_logp(logits[n_prompt:-1],
                                                                   ids[n_prompt + 1:]),
            WRONG_SIGN: _token_logp(shifted, y),
            SOFTMAX: -F.softmax(shifted.double(), -1).gather(-1, y[:, None]).squeeze(-1),
            "returned probabilities pi(y_t | ...) instead of -log pi(y_t | ...)":
                F.softmax(shifted.double(), -1).gather(-1, y[:, None]).squeeze(-1),
            RAW_LOGITS: -shifted.double().gather(-1, y[:, None]).squeeze(-1),
        }
        cases.append(((logits.clone(), ids.clone(), n_prompt), right, mistakes))
    run_cases("Exercise 1.1", fn, cases)
    passed("Exercise 1.1", "per-token -log pi(y_t | x, y_<t) match on 4 sequences")


# --- Exercise 1.2: the batched SFT loss with prompt masking ---------------------------------------


def _batch(seed: int, B: int = 4, T: int = 9, V: int = 13):
    """Seeded (logits, labels, loss_mask): ragged prompts, responses and right padding."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * 2  # (B, T, V)
    labels = torch.randint(0, V, (B, T), generator=g)  # (B, T)
    loss_mask = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        p = int(torch.randint(1, 4, (1,), generator=g))  # prompt length
        r = int(torch.randint(1, T - p + 1, (1,), generator=g))  # response length
        r = max(r, 2) if b == 0 else r
        loss_mask[b, p:min(T, p + r)] = 1
    loss_mask[1, :] = 0
    loss_mask[1, 2:T - 1] = 1  # one long response next to short ones: per-row means differ
    return logits, labels, loss_mask


def _loss_mistakes(logits, labels, loss_mask) -> dict[str, torch.Tensor]:
    lp = _token_logp(logits[:, :-1], labels[:, 1:])  # (B, T-1), shifted
    lp_noshift = _token_logp(logits, labels)  # (B, T)
    m = loss_mask[:, 1:].double()  # mask of the predicted tokens
    m_wrong = loss_mask[:, :-1].double()  # mask of the predicting positions
    probs = F.softmax(logits[:, :-1].double(), -1).gather(-1, labels[:, 1:, None]).squeeze(-1)
    raw = logits[:, :-1].double().gather(-1, labels[:, 1:, None]).squeeze(-1)
    lp_backwards = _token_logp(logits[:, 1:], labels[:, :-1])
    per_row = (lp * m).sum(1) / m.sum(1).clamp(min=1)
    rows = m.sum(1) > 0
    mistakes = {
        FORGOT_SHIFT: -(lp_noshift * loss_mask).sum() / loss_mask.sum(),
        WRONG_SHIFT: -(lp_backwards * m).sum() / m.sum(),
        "forgot the mask: the prompt and padding tokens were averaged in too (multiply by "
        "loss_mask[:, 1:] and divide by its sum)": -lp.mean(),
        "applied the mask but divided by the number of ALL tokens instead of the number of "
        "response tokens": -(lp * m).sum() / m.numel(),
        "summed over the response tokens instead of averaging (divide by the number of "
        "response tokens, loss_mask[:, 1:].sum())": -(lp * m).sum(),
        WRONG_SIGN: (lp * m).sum() / m.sum(),
        SOFTMAX: -(probs * m).sum() / m.sum(),
        RAW_LOGITS: -(raw * m).sum() / m.sum(),
        "applied the mask on the wrong side of the shift: after shifting, use "
        "loss_mask[:, 1:] (the mask of the tokens being predicted), not loss_mask[:, :-1]":
            -(lp * m_wrong).sum() / m_wrong.sum(),
        "averaged each sequence first and then the sequences: average over all response "
        "tokens of the batch at once (sum / number of response tokens)": -per_row[rows].mean(),
    }
    return mistakes


def check_sft_loss(fn: Callable) -> None:
    """Exercise 1.2: ``fn(logits, labels, loss_mask)`` -> the mean of -log pi(y_t | x, y_<t)
    over the response tokens of the batch (eq. L_SFT, averaged), with the shift inside."""
    for seed in range(4):
        logits, labels, loss_mask = _batch(seed)
        expected = sft_loss(logits.double(), labels, loss_mask)
        x = logits.clone().requires_grad_()
        got = fn(x, labels.clone(), loss_mask.clone())
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise ExerciseError("Exercise 1.2: return the loss as a scalar tensor, got "
                                f"{getattr(got, 'shape', type(got).__name__)}")
        diagnose("Exercise 1.2", got.reshape(()), expected,
                 _loss_mistakes(logits, labels, loss_mask))
        if not got.requires_grad:
            raise ExerciseError("Exercise 1.2: not yet right. The loss has no gradient: compute "
                                "it from the logits without .detach(), .item() or no_grad.")
    passed("Exercise 1.2", "loss matches the reference on 4 ragged batches (prompts, "
                           "responses and padding of different lengths)")


__all__ = ["check_response_token_nll", "check_sft_loss"]
