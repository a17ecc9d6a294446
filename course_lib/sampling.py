"""Sampling responses from a language model, with the log-probabilities RL needs.

``sample(model, tokenizer, prompts)`` runs the policy pi_theta(y_t | x, y_<t) one token at a time
with a KV cache (each step feeds only the newest token), on a left-padded batch, and returns a
:class:`Rollout`: the token ids, the log-probability of every sampled token, the mask of response
tokens, and the decoded texts. :func:`sequence_logprobs` recomputes the same log-probabilities
with one fresh forward pass: the form RL uses to get gradients.

RL samples several responses to each prompt. A prompt repeated in the batch is read once
(:func:`prefill`) and its KV cache copied to its rows, so K samples cost one prompt pass, not K.
A row that has sampled ``<eos>`` leaves the batch, so a few long responses cost only their own
rows, not a full batch, for their last tokens.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast


@dataclass
class Rollout:
    """A batch of sampled responses. B = batch size, P = prompt length, R = response length."""

    prompt_ids: torch.Tensor  # (B, P) prompt tokens, left-padded with <pad>
    prompt_mask: torch.Tensor  # (B, P) 1 on real prompt tokens, 0 on padding
    response_ids: torch.Tensor  # (B, R) sampled tokens, <pad> after <eos>
    response_mask: torch.Tensor  # (B, R) 1 on response tokens up to and including <eos>
    logprobs: torch.Tensor  # (B, R) log pi(y_t | x, y_<t) of each sampled token (0 on padding)
    prompts: list[str]  # the prompts, as given
    texts: list[str]  # the decoded responses (without special tokens)
    temperature: float  # the temperature the responses were sampled at

    @property
    def input_ids(self) -> torch.Tensor:  # (B, P + R)
        return torch.cat([self.prompt_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:  # (B, P + R)
        return torch.cat([self.prompt_mask, self.response_mask], dim=1)

    @property
    def lengths(self) -> torch.Tensor:  # (B,) number of response tokens, <eos> included
        return self.response_mask.sum(dim=1)

    def __len__(self) -> int:
        return len(self.texts)


def _check_prompts(prompts: list[str] | str) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of strings")
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise ValueError(f"prompts[{i}] must be a non-empty string, got {p!r}")
    return list(prompts)


def encode_prompts(tokenizer: PreTrainedTokenizerFast, prompts: list[str] | str,
                   max_length: int, device: torch.device | str = "cpu"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``(ids, mask)`` of shape (B, P); a clear error for a prompt that is too long."""
    prompts = _check_prompts(prompts)
    enc = tokenizer(prompts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    lengths = mask.sum(dim=1)
    if int(lengths.max()) > max_length:
        i = int(lengths.argmax())
        raise ValueError(
            f"prompts[{i}] is {int(lengths[i])} tokens, longer than the {max_length} tokens "
            "the model can read together with its response (n_positions minus max_new_tokens)")
    return ids.to(device), mask.to(device)


def _cache_argument(model: PreTrainedModel) -> str:
    """Name of the KV-cache argument: ``cache`` (recent transformers) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on the first real token of each left-padded row."""
    return (mask.long().cumsum(dim=1) - 1).clamp(min=0)


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


SAMPLER = "inverse-cdf/1"  # names the way :func:`draw` turns random numbers into tokens; a
# cache of anything sampled (the reward model's comparisons) is keyed by it, so a change to the
# sampler gives a new key and never a stale model


def draw(probs: torch.Tensor, generator: torch.Generator | None = None,
         u: torch.Tensor | None = None) -> torch.Tensor:
    """One token per row of ``probs`` (B, V), by inverse transform sampling: a uniform number u
    per row, and the first token whose cumulative probability exceeds u (times the row's total,
    so the rows need not sum exactly to 1). Returns (B,) token ids on ``probs``' device.

    One random number per row, where ``torch.multinomial`` draws one per token (V per row), and
    ``u`` comes from ``generator`` (on the CPU) whatever the device, so only B numbers travel to
    the device per step, not the (B, V) probabilities back to the CPU. Pass ``u`` (B, 1), float64
    in [0, 1), to use numbers drawn already."""
    if u is None:
        u = torch.rand(probs.shape[0], 1, generator=generator, dtype=torch.float64)  # (B, 1)
    cdf = probs.double().cumsum(dim=-1)  # (B, V), rising from p_0 to the row's total
    x = u.to(probs.device) * cdf[:, -1:]
    token = torch.searchsorted(cdf, x, right=True)  # first cdf > x: never a token of p = 0
    return token.clamp(max=probs.shape[-1] - 1).view(-1)


@torch.no_grad()
def sample(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
           prompts: list[str] | str, max_new_tokens: int = 16, temperature: float = 1.0,
           top_k: int | None = None, generator: torch.Generator | None = None,
           greedy: bool = False) -> Rollout:
    """Sample one response per prompt from pi_theta at ``temperature``.

    ``logprobs`` are those of the distribution sampled from: log softmax(logits / temperature)
    (with ``top_k``, of the full tempered distribution, before truncation). ``greedy=True`` takes
    the most likely token at every step (temperature is then only used for ``logprobs``).
    Pass a seeded ``generator`` (on the CPU) for reproducible samples.
    """
    if not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy=True for greedy decoding), "
                         f"got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or top_k <= 0):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    device = next(model.parameters()).device
    n_ctx = model.config.n_positions
    if max_new_tokens >= n_ctx:
        raise ValueError(f"max_new_tokens must be below the model's context ({n_ctx}), "
                         f"got {max_new_tokens}")
    prompts = _check_prompts(prompts)
    first, rows = prompt_groups(prompts)  # repeated prompts are read once
    unique_ids, unique_mask = encode_prompts(tokenizer, [prompts[i] for i in first],
                                             n_ctx - max_new_tokens, device)
    prompt_ids, prompt_mask = unique_ids[rows.to(device)], unique_mask[rows.to(device)]  # (B, P)
    was_training = model.training
    model.eval()
    cache_kw = _cache_argument(model)

    B = prompt_ids.shape[0]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    logits, past = prefill(model, unique_ids, unique_mask, rows)  # (B, V) and the KV cache
    # Only the rows still generating are fed to the model: a row leaves the batch (and its KV
    # cache) once it has sampled <eos>, so a few long responses do not cost a full batch.
    live = torch.arange(B, device=device)  # (L,) the rows still generating
    mask = prompt_mask.clone()  # (L, P + t) their attention mask: one column more per step
    done = torch.zeros(B, dtype=torch.bool, device=device)
    tokens, logps, alive = [], [], []
    for _ in range(max_new_tokens):
        logp = F.log_softmax(logits.float() / temperature, dim=-1)  # (L, V)
        if greedy:
            nxt = logp.argmax(dim=-1)
        else:
            probs = logp.exp()
            if top_k is not None:
                kth = torch.topk(probs, min(top_k, probs.shape[-1]), dim=-1).values[:, -1:]
                probs = torch.where(probs < kth, torch.zeros_like(probs), probs)
            # a number for every row, finished or not: a row's tokens do not depend on when
            # the other rows end
            u = torch.rand(B, 1, generator=generator, dtype=torch.float64)
            nxt = draw(probs, u=u.to(device)[live])  # (L,)
        token = torch.full((B,), pad, dtype=torch.long, device=device)  # <pad> after <eos>
        logps.append(torch.zeros(B, device=device).index_put((live,),
                                                             logp.gather(1, nxt[:, None])[:, 0]))
        tokens.append(token.index_put((live,), nxt))
        alive.append(~done)
        done = done | (tokens[-1] == eos)
        going = nxt != eos  # (L,) the live rows that go on
        if not bool(going.any()):
            break
        if not bool(going.all()):  # drop the rows that just ended, from the batch and the cache
            keep = going.nonzero()[:, 0]
            live, mask, nxt = live[keep], mask[keep], nxt[keep]
            past.batch_select_indices(keep)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)  # the token just sampled
        out = model(input_ids=nxt[:, None], attention_mask=mask,  # feeds only the new token
                    position_ids=positions(mask)[:, -1:], use_cache=True, **{cache_kw: past})
        past = out.get(cache_kw)  # the KV cache: keys and values of every token so far
        logits = out.logits[:, -1]  # (L, V)

    response_ids = torch.stack(tokens, dim=1)  # (B, R)
    response_mask = torch.stack(alive, dim=1).long()  # (B, R)
    if was_training:
        model.train()
    texts = tokenizer.batch_decode(response_ids, skip_special_tokens=True)
    return Rollout(prompt_ids=prompt_ids, prompt_mask=prompt_mask, response_ids=response_ids,
                   response_mask=response_mask, logprobs=torch.stack(logps, dim=1),
                   prompts=prompts, texts=texts, temperature=float(temperature))


SAMPLE_CHUNK = 512  # rows that sample_texts samples at once: a laptop's memory is finite


def sample_texts(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                 prompts: list[str], chunk_size: int = SAMPLE_CHUNK, **kwargs) -> list[str]:
    """The response texts of :func:`sample` for any number of prompts, ``chunk_size`` at a time.

    For evaluations over thousands of responses: the KV cache and logits of a chunk are freed
    before the next, so memory does not grow with the number of prompts. ``kwargs`` go to
    :func:`sample`; one ``generator`` (if given) runs on through all the chunks.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    prompts = _check_prompts(prompts)
    texts: list[str] = []
    for i in range(0, len(prompts), chunk_size):
        texts += sample(model, tokenizer, prompts[i:i + chunk_size], **kwargs).texts
    return texts


@torch.no_grad()
def next_token_logits(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                      prompts: list[str] | str) -> torch.Tensor:
    """The model's logits for the token that follows each prompt: (B, V), one forward pass."""
    device = next(model.parameters()).device
    ids, mask = encode_prompts(tokenizer, prompts, model.config.n_positions, device)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions(mask)).logits
    return logits[:, -1].float()  # (B, V): left padding puts every prompt's last token at -1


def token_logprobs(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    """log pi(x_t | x_<t) for every token after the first, in one forward pass: (B, T - 1).

    Differentiable (no ``no_grad``): RL calls this to get the gradient of the log-probabilities.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   position_ids=positions(attention_mask)).logits  # (B, T, V)
    logp = F.log_softmax(logits[:, :-1].float() / temperature, dim=-1)  # (B, T-1, V)
    return logp.gather(2, input_ids[:, 1:, None]).squeeze(2)  # (B, T-1)


def sequence_logprobs(model: PreTrainedModel, rollout: Rollout,
                      temperature: float | None = None) -> torch.Tensor:
    """Recompute ``rollout.logprobs`` with a fresh forward pass: (B, R), 0 on padding.

    Equal to the log-probs recorded while sampling (same temperature), up to float error.
    """
    temperature = rollout.temperature if temperature is None else temperature
    P = rollout.prompt_ids.shape[1]
    lp = token_logprobs(model, rollout.input_ids, rollout.attention_mask, temperature)
    return lp[:, P - 1:] * rollout.response_mask  # (B, R): predictions of the response tokens
