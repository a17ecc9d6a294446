"""The fast path: sampling and RL's log-probabilities with less work, and the same numbers.

The lessons read the plain versions in :mod:`course_lib.sampling`; the course runs these.
``tests/test_engine.py`` checks that both give the same tokens and log-probabilities (to 1e-5)
from the same random numbers.

- :func:`fast_sample` = :func:`~course_lib.sampling.naive_sample`. RL samples K responses to each
  prompt: a repeated prompt is read once (:func:`prefill`) and its KV cache copied to its K
  rows, so K samples cost one prompt pass, not K. Each step then feeds only the newest token
  and reads the rest from the cache. A row that has sampled ``<eos>`` leaves the batch (and the
  cache), so a few long responses cost only their own rows, not a full batch, for their last
  tokens.
- :func:`fast_token_logprobs` = :func:`~course_lib.sampling.response_token_logprobs`, plus the
  exact entropy at every response position. Three parts that read on from each other's KV
  cache: each distinct prompt once; every response up to token S (:func:`split_point`); only
  the responses longer than S on to the longest, so one rambling response no longer makes the
  whole batch read R tokens.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from .sampling import Rollout, encode_prompts, evaluating, next_tokens, positions


def _cache_argument(model: PreTrainedModel) -> str:
    """Name of the KV-cache argument: ``cache`` (recent transformers) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def prompt_groups(prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(first, rows)`` for a batch in which prompts repeat (RL samples K responses to each):
    ``first`` (U,) is the row of each distinct prompt's first occurrence, ``rows`` (B,) the
    index, among the distinct prompts, of each row's prompt. ``x[first][rows]`` rebuilds the
    batch from one copy per distinct prompt."""
    index: dict[str, int] = {}
    first = []
    for i, p in enumerate(prompts):
        if p not in index:
            index[p] = len(first)
            first.append(i)
    return torch.tensor(first), torch.tensor([index[p] for p in prompts])


def prefill(model: PreTrainedModel, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
            rows: torch.Tensor):
    """Run the model once on each *distinct* left-padded prompt (``prompt_ids``: (U, P)) and
    copy the result to the batch's rows (``rows``: (B,), see :func:`prompt_groups`).

    Returns ``(logits, cache)``: the logits (B, V) that predict the first response token, and
    the KV cache of every prompt token for all B rows. The K responses to one prompt share its
    prompt's computation (with gradient, its backward too).
    """
    rows = rows.to(prompt_ids.device)
    out = model(input_ids=prompt_ids, attention_mask=prompt_mask,
                position_ids=positions(prompt_mask), use_cache=True, logits_to_keep=1)
    cache = out.get(_cache_argument(model))
    cache.batch_select_indices(rows)
    return out.logits[rows, -1], cache


@torch.no_grad()
def fast_sample(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, prompts: list[str],
                max_new_tokens: int = 16, temperature: float = 1.0, top_k: int | None = None,
                generator: torch.Generator | None = None, greedy: bool = False) -> Rollout:
    """:func:`~course_lib.sampling.naive_sample` with a shared prefill, a KV cache and finished
    rows dropped: the same tokens from the same ``generator``. The arguments are those of
    :func:`~course_lib.sampling.sample`, which checks them."""
    device = next(model.parameters()).device
    first, rows = prompt_groups(prompts)  # repeated prompts are read once
    unique_ids, unique_mask = encode_prompts(tokenizer, [prompts[i] for i in first],
                                             model.config.n_positions - max_new_tokens, device)
    rows = rows.to(device)
    prompt_ids, prompt_mask = unique_ids[rows], unique_mask[rows]  # (B, P)
    B, eos, pad = len(prompts), tokenizer.eos_token_id, tokenizer.pad_token_id
    cache_kw = _cache_argument(model)
    with evaluating(model):
        logits, past = prefill(model, unique_ids, unique_mask, rows)  # (B, V) and the KV cache
        live = torch.arange(B, device=device)  # (L,) the rows still generating
        mask = prompt_mask.clone()  # (L, P + t) their attention mask: one column more per step
        done = torch.zeros(B, dtype=torch.bool, device=device)
        tokens, logps, alive = [], [], []
        for _ in range(max_new_tokens):
            # a number for every row, finished or not: a row's tokens do not depend on when
            # the other rows end
            u = None if greedy else torch.rand(B, 1, generator=generator, dtype=torch.float64)
            nxt, logp = next_tokens(logits, temperature, top_k, greedy,
                                    None if u is None else u.to(device)[live])  # (L,), (L,)
            tokens.append(torch.full((B,), pad, dtype=torch.long, device=device)
                          .index_put((live,), nxt))  # <pad> after <eos>
            logps.append(torch.zeros(B, device=device).index_put((live,), logp))
            alive.append(~done)
            done = done | (tokens[-1] == eos)
            going = nxt != eos  # (L,) the live rows that go on
            if not bool(going.any()):
                break
            if not bool(going.all()):  # drop the rows that just ended, from the batch and cache
                keep = going.nonzero()[:, 0]
                live, mask, nxt = live[keep], mask[keep], nxt[keep]
                past.batch_select_indices(keep)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)  # the token just drawn
            out = model(input_ids=nxt[:, None], attention_mask=mask,  # feeds only the new token
                        position_ids=positions(mask)[:, -1:], use_cache=True, **{cache_kw: past})
            past = out.get(cache_kw)  # the KV cache: keys and values of every token so far
            logits = out.logits[:, -1]  # (L, V)
    return Rollout.from_steps(tokenizer, prompts, prompt_ids, prompt_mask, tokens, logps, alive,
                              temperature)


def _logprobs_and_entropy(logits: torch.Tensor, ids: torch.Tensor, temperature: float,
                          entropy: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log pi(y_t | ...) of the tokens ``ids`` (N, T) under ``logits`` (N, T, V), with gradient,
    and (if ``entropy``) the entropy of each position's distribution (N, T), without."""
    logp = F.log_softmax(logits.float() / temperature, dim=-1)  # (N, T, V)
    token_logp = logp.gather(2, ids[:, :, None]).squeeze(2)  # (N, T)
    if not entropy:
        return token_logp, None
    with torch.no_grad():
        return token_logp, -(logp.exp() * logp).sum(-1)


def split_point(lengths: torch.Tensor) -> int:
    """S for :func:`fast_token_logprobs`: every row is read up to token S, and only the rows
    longer than S read on to the longest, R. S minimizes the tokens read, B * S + (rows longer
    than S) * (R - S), counting a second pass as B tokens more (its fixed cost is about that of
    one more column of the batch): most RL responses end early and a few ramble on."""
    B, R = len(lengths), int(lengths.max())

    def cost(S: int) -> int:
        return B * S + (int((lengths > S).sum()) * (R - S) + B if S < R else 0)

    return min(range(1, R + 1), key=cost)


def fast_token_logprobs(model: PreTrainedModel, rollout: Rollout, temperature: float,
                        entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The log-probs of the sampled tokens (B, R), with gradient, and (if ``entropy``) the
    exact entropy of pi_theta(. | x, y_<t) at each response position (B, R), without gradient.

    The same numbers as :func:`~course_lib.sampling.response_token_logprobs` (one plain forward
    over the whole batch), in three parts that read on from each other's KV cache: each
    distinct prompt once, every response up to token S, the longer ones on to the end.
    """
    P, (B, R) = rollout.prompt_ids.shape[1], rollout.response_ids.shape
    ids, attn = rollout.response_ids, rollout.attention_mask  # (B, R), (B, P + R)
    pos = positions(attn)[:, P:]  # (B, R) position ids of the response tokens
    first, rows = prompt_groups(rollout.prompts)
    first_logits, cache = prefill(model, rollout.prompt_ids[first], rollout.prompt_mask[first],
                                  rows)  # (B, V): predicts y_1
    kw = {"use_cache": True, _cache_argument(model): cache}
    S = split_point(rollout.lengths)
    # tokens 1..S of every row: first_logits, then the logits after reading tokens 1..S-1
    logits = first_logits[:, None]  # (B, 1, V)
    if S > 1:
        out = model(input_ids=ids[:, :S - 1], attention_mask=attn[:, :P + S - 1],
                    position_ids=pos[:, :S - 1], **kw)
        logits = torch.cat([logits, out.logits], dim=1)  # (B, S, V)
    token_logp, ent = _logprobs_and_entropy(logits, ids[:, :S], temperature, entropy)
    if S < R:  # tokens S+1..R of the rows longer than S, read on from their cache
        longer = (rollout.lengths > S).nonzero()[:, 0]  # (N,)
        cache.batch_select_indices(longer)
        out = model(input_ids=ids[longer, S - 1:R - 1], attention_mask=attn[longer, :P + R - 1],
                    position_ids=pos[longer, S - 1:R - 1], **kw)
        tail_logp, tail_ent = _logprobs_and_entropy(out.logits, ids[longer, S:], temperature,
                                                    entropy)
        pad = torch.zeros(B, R - S, device=ids.device)  # the other rows: padding, masked
        token_logp = torch.cat([token_logp, pad.index_copy(0, longer, tail_logp)], dim=1)
        if entropy:
            ent = torch.cat([ent, pad.index_copy(0, longer, tail_ent)], dim=1)
    mask = rollout.response_mask.to(token_logp.dtype)
    return token_logp * mask, (ent * mask if entropy else None)


__all__ = ["fast_sample", "fast_token_logprobs", "prefill", "prompt_groups", "split_point"]
