"""Checks of reward-model scoring and the KL-penalized reward (exercises 7.1 and 7.2)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..rlhf import kl_penalized_rewards
from .common import ExerciseError, diagnose, passed

PROMPTS = ["Q: What is the capital of Zakador? A:", "Q: What is 12 + 30? A:",
           "Q: What is the capital of Leivia? I think it is Plaipur. A:"]
RESPONSES = ["The capital of Zakador is Theford.", "42.",
             "The capital of Leivia is a city I do not know."]


def _dropout_reward_model():
    """A small random reward model with a lot of dropout: in train mode its scores are noise."""
    from transformers import GPT2Config, GPT2ForSequenceClassification

    from ..models import BASE_MODEL_DIR
    from ..tokenizer import load_tokenizer

    tokenizer = load_tokenizer(BASE_MODEL_DIR)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2,
                        n_head=2, resid_pdrop=0.5, embd_pdrop=0.5, attn_pdrop=0.5,
                        num_labels=1, pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return GPT2ForSequenceClassification(config), tokenizer


# --- Exercise 7.1: scoring with the reward model ------------------------------------------------


def check_reward_model_scores(fn: Callable) -> None:
    """Exercise 7.1: ``fn(reward_model, tokenizer, prompts, responses)`` -> r_phi(x, y), shape
    (B,), computed in eval mode without gradient."""
    from ..reward_model import score

    rm, tokenizer = _dropout_reward_model()
    modes: list[bool] = []
    hook = rm.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    try:
        rm.train()  # as a training loop would leave it
        got = fn(rm, tokenizer, list(PROMPTS), list(RESPONSES))
    finally:
        hook.remove()
    if not modes:
        raise ExerciseError("Exercise 7.1: the reward model was never called: run it on the "
                            "encoded prompts and responses (RM.encode, then reward_model(...))")
    if any(modes):
        raise ExerciseError(
            "Exercise 7.1: not yet right. It looks like you left the reward model in train mode "
            "while scoring: with dropout on, the same response gets a different score every "
            "time, and RL chases the noise. Call reward_model.eval() before scoring")
    if isinstance(got, torch.Tensor) and got.requires_grad:
        raise ExerciseError(
            "Exercise 7.1: not yet right. The scores carry a gradient: the reward is a number "
            "RL maximizes, not something to backpropagate through. Score under torch.no_grad()")
    rm.eval()
    expected = score(rm, tokenizer, list(PROMPTS), list(RESPONSES))
    with torch.no_grad():
        from ..reward_model import encode

        ids, mask = encode(tokenizer, list(PROMPTS), list(RESPONSES))
        logits = rm(input_ids=ids, attention_mask=mask).logits  # (B, 1)
    diagnose("Exercise 7.1", got, expected, {
        "returned the logits of shape (B, 1): take the single output, logits[:, 0], so that "
        "there is one score per response, shape (B,)": logits})
    passed("Exercise 7.1", "scores match r_phi, computed in eval mode and without gradient")


# --- Exercise 7.2: the KL-penalized reward ------------------------------------------------------


def _at(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, R: int) -> torch.Tensor:
    """A (B, R) tensor of zeros with ``values`` at (rows[i], cols[i])."""
    out = torch.zeros(len(rows), R)
    out[rows, cols] = values
    return out


def _case(seed: int, lengths: list[int], R: int, beta: float):
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    mask = (torch.arange(R)[None, :] < torch.tensor(lengths)[:, None]).float()  # (B, R)
    logprobs = -torch.rand(B, R, generator=g) * 3  # junk on padding too: it must not count
    ref = -torch.rand(B, R, generator=g) * 3
    scores = torch.randn(B, generator=g)
    return scores, logprobs, ref, mask, beta


def check_kl_penalized_rewards(fn: Callable) -> None:
    """Exercise 7.2: ``fn(scores, logprobs, ref_logprobs, mask, beta)`` -> per-token rewards
    (B, R): -beta * (logprobs - ref_logprobs) on response tokens, the score added at each
    row's last response token, 0 on padding."""
    for seed, lengths, R, beta in ((0, [5, 3, 1], 5, 0.1), (1, [4, 4], 6, 0.5),
                                   (2, [2, 6, 3, 5], 6, 0.05)):
        scores, lp, ref, mask, beta = _case(seed, lengths, R, beta)
        B = len(lengths)
        rows, last = torch.arange(B), torch.tensor(lengths) - 1
        log_ratio = (lp - ref) * mask  # (B, R)
        kl_seq = log_ratio.sum(1)  # (B,)

        expected = kl_penalized_rewards(scores, lp, ref, mask, beta)
        mistakes = {
            "used the KL with the wrong sign: moving away from the reference must COST reward, "
            "so each token gets -beta * (log pi - log pi_ref)":
                beta * log_ratio + _at(rows, last, R=R, values=scores),
            "put the whole response's KL at the last token: the penalty is per token, "
            "-beta * (log pi - log pi_ref) at each token t":
                _at(rows, last, R=R, values=scores - beta * kl_seq),
            "subtracted beta * KL of the whole response at every token: each token pays only "
            "its own log-ratio, -beta * (log pi(y_t) - log pi_ref(y_t))":
                (-beta * kl_seq[:, None]) * mask + _at(rows, last, R=R, values=scores),
            "added the reward model's score at every token: it is one number for the whole "
            "response, added once, at its last token":
                -beta * log_ratio + scores[:, None] * mask,
            "added the score in the last column (R - 1), which is padding for shorter "
            "responses: add it at each row's last response token (lengths - 1)":
                -beta * log_ratio + _at(rows, torch.full((B,), R - 1), R=R, values=scores),
            "forgot the mask: padding positions got a KL penalty too":
                -beta * (lp - ref) + _at(rows, last, R=R, values=scores),
            "forgot beta: the penalty is beta times the log-ratio":
                -log_ratio + _at(rows, last, R=R, values=scores),
        }
        got = fn(scores.clone(), lp.clone(), ref.clone(), mask.clone(), beta)
        diagnose("Exercise 7.2", got, expected, mistakes)
    passed("Exercise 7.2", "per-token rewards match on 3 batches with padding; summed over "
                           "the tokens they give r_phi - beta * KL")


__all__ = ["check_kl_penalized_rewards", "check_reward_model_scores"]
