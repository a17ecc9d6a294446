"""Checks of next-token probabilities and sequence log-probabilities (exercises 0.1 and 0.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .common import passed, run_cases


def check_temperature_probs(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """Exercise 0.1: ``fn(logits, temperature)`` -> next-token probabilities softmax(logits / T)."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for T in (0.5, 1.0, 2.0):
        logits = torch.randn(3, 11, generator=g) * 3
        cases.append(((logits.clone(), T), F.softmax(logits / T, dim=-1), {
            "multiplied the logits by T instead of dividing by it": F.softmax(logits * T, -1),
            "forgot the softmax (these are scaled logits, not probabilities)": logits / T,
            "returned log-probabilities (log_softmax) instead of probabilities":
                F.log_softmax(logits / T, dim=-1),
            "took the softmax over the wrong dimension (over the batch, not the vocabulary)":
                F.softmax(logits / T, dim=0),
        }))
    run_cases("Exercise 0.1", fn, cases)
    passed("Exercise 0.1", "probabilities at temperatures 0.5, 1 and 2 match softmax(logits / T)")


def check_sequence_logprob(fn: Callable, model, tokenizer) -> None:
    """Exercise 0.2: ``fn(model, tokenizer, prompt, continuation)`` -> sum_t log pi(y_t | x, y_<t).
    """
    from ..world import CORPUS_PROMPT, default_world

    world = default_world()
    cases = []
    for e in world.entities[:3]:
        prompt, cont = CORPUS_PROMPT.format(country=e.country), f" {e.capital}."
        p_ids = tokenizer(prompt)["input_ids"]
        c_ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + c_ids], device=next(model.parameters()).device)
        with torch.no_grad():
            logp = F.log_softmax(model(input_ids=ids).logits[0].float(), -1)  # (T, V)
        T = ids.shape[1]
        targets = ids[0, 1:]
        per_token = logp[:-1].gather(1, targets[:, None]).squeeze(1)  # (T-1,)
        P = len(p_ids)
        right = per_token[P - 1:].sum()
        unshifted = logp[P:].gather(1, ids[0, P:, None]).sum() if P < T else right * 0
        cases.append(((model, tokenizer, prompt, cont), right, {
            "summed the log-probabilities of the prompt tokens too": per_token.sum(),
            "forgot the shift (the logits at position t predict token t + 1)": unshifted,
            "multiplied probabilities instead of summing log-probabilities (or returned a "
            "probability)": right.exp(),
            "averaged over the tokens instead of summing": per_token[P - 1:].mean(),
            "dropped the sign (this is the negative log-likelihood)": -right,
        }))
    run_cases("Exercise 0.2", fn, cases, atol=1e-4)
    passed("Exercise 0.2", "log-probabilities of three continuations match the reference")
