"""Sampling responses from a language model, with the log-probabilities RL needs.

The policy pi_theta(y_t | x, y_<t) writes one token at a time. :func:`naive_sample` is that loop
written plainly: at every step, one forward pass over the prompt and the tokens so far, the
distribution of the next token, one random number per row to draw it (:func:`next_tokens`,
:func:`draw`). It returns a :class:`Rollout`: the token ids, the log-probability of every
sampled token, the mask of response tokens, and the decoded texts.
:func:`response_token_logprobs` recomputes those log-probabilities with one plain forward pass
over the whole batch, with gradient: the form RL differentiates.

:func:`sample`, the function the course calls, gives the same tokens and log-probabilities from
the same random numbers with less work: it runs the fast path of :mod:`course_lib.engine` (each
prompt read once for all its samples, a KV cache, finished rows dropped), which
``tests/test_engine.py`` checks against the plain versions here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from . import validation as V
from .tokenizer import check_known_words


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

    def select(self, rows: torch.Tensor) -> Rollout:
        """The rollout of the rows ``rows`` (a 1-D index tensor) only, its response columns cut
        to the longest of them (PPO's minibatches)."""
        R = int(self.lengths[rows].max())
        keep = rows.tolist()
        return Rollout(prompt_ids=self.prompt_ids[rows], prompt_mask=self.prompt_mask[rows],
                       response_ids=self.response_ids[rows, :R],
                       response_mask=self.response_mask[rows, :R],
                       logprobs=self.logprobs[rows, :R], prompts=[self.prompts[i] for i in keep],
                       texts=[self.texts[i] for i in keep], temperature=self.temperature)

    @classmethod
    def from_steps(cls, tokenizer: PreTrainedTokenizerFast, prompts: list[str],
                   prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                   tokens: list[torch.Tensor], logprobs: list[torch.Tensor],
                   alive: list[torch.Tensor], temperature: float) -> Rollout:
        """The rollout of a sampling loop that kept, at every step, each row's token, its
        log-probability and whether the row was still generating (three lists of (B,))."""
        response_ids = torch.stack(tokens, dim=1)  # (B, R)
        return cls(prompt_ids=prompt_ids, prompt_mask=prompt_mask, response_ids=response_ids,
                   response_mask=torch.stack(alive, dim=1).long(),
                   logprobs=torch.stack(logprobs, dim=1), prompts=list(prompts),
                   texts=tokenizer.batch_decode(response_ids, skip_special_tokens=True),
                   temperature=float(temperature))


def check_sampling(model: PreTrainedModel, prompts: Sequence[str] | str, max_new_tokens: int,
                   temperature: float, top_k: int | None) -> list[str]:
    """The checks every sampler makes of its arguments; returns the prompts as a list."""
    V.positive_int("max_new_tokens", max_new_tokens)
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) \
            or not 0 < temperature < float("inf"):
        raise ValueError(f"temperature must be > 0 and finite (use greedy=True for greedy "
                         f"decoding), got {temperature!r}")
    if top_k is not None:
        V.positive_int("top_k", top_k)
    n_ctx = model.config.n_positions
    if max_new_tokens >= n_ctx:
        raise ValueError(f"max_new_tokens must be below the model's context ({n_ctx}), "
                         f"got {max_new_tokens}")
    return V.texts("prompts", [prompts] if isinstance(prompts, str) else prompts)


def encode_prompts(tokenizer: PreTrainedTokenizerFast, prompts: list[str] | str,
                   max_length: int, device: torch.device | str = "cpu"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``(ids, mask)`` of shape (B, P); a clear error for a prompt that is too long."""
    prompts = V.texts("prompts", [prompts] if isinstance(prompts, str) else prompts)
    enc = tokenizer(prompts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    if bool((ids == tokenizer.unk_token_id).any()) or any("<" in p for p in prompts):
        check_known_words(tokenizer, prompts, "prompts")  # names the unknown words
    lengths = mask.sum(dim=1)
    if int(lengths.max()) > max_length:
        i = int(lengths.argmax())
        raise ValueError(
            f"prompts[{i}] is {int(lengths[i])} tokens, longer than the {max_length} tokens "
            "the model can read here: its context is ModelConfig.n_positions (64 for the "
            "course's model) positions for prompt and response together, minus max_new_tokens")
    return ids.to(device), mask.to(device)


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on the first real token of each left-padded row."""
    return (mask.long().cumsum(dim=1) - 1).clamp(min=0)


@contextmanager
def evaluating(model: PreTrainedModel) -> Iterator[PreTrainedModel]:
    """The model in eval mode inside the block, back in its own mode after it."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


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


def next_tokens(logits: torch.Tensor, temperature: float, top_k: int | None = None,
                greedy: bool = False, u: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of each row and its log-probability, from the logits (L, V): the most
    likely one (``greedy``), or a :func:`draw` from softmax(logits / temperature), truncated to
    the ``top_k`` most likely tokens if given, with the uniform numbers ``u`` (L, 1).

    The log-probabilities (L,) are those of the full tempered distribution (before truncation).
    """
    logp = F.log_softmax(logits.float() / temperature, dim=-1)  # (L, V)
    if greedy:
        token = logp.argmax(dim=-1)
    else:
        probs = logp.exp()
        if top_k is not None:
            kth = torch.topk(probs, min(top_k, probs.shape[-1]), dim=-1).values[:, -1:]
            probs = torch.where(probs < kth, torch.zeros_like(probs), probs)
        token = draw(probs, u=u)
    return token, logp.gather(1, token[:, None])[:, 0]  # (L,), (L,)


@torch.no_grad()
def naive_sample(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                 prompts: list[str] | str, max_new_tokens: int = 16, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 greedy: bool = False) -> Rollout:
    """Plain autoregressive sampling: the reference the fast :func:`sample` is checked against.

    At every step the model reads everything so far (prompt and response, no cache), and each
    row draws its next token with one random number (drawn for every row, finished or not); a
    row that has sampled ``<eos>`` gets ``<pad>`` until every row is done.
    """
    prompts = check_sampling(model, prompts, max_new_tokens, temperature, top_k)
    device = next(model.parameters()).device
    prompt_ids, prompt_mask = encode_prompts(tokenizer, prompts,
                                             model.config.n_positions - max_new_tokens, device)
    B, eos, pad = len(prompts), tokenizer.eos_token_id, tokenizer.pad_token_id
    ids, mask = prompt_ids, prompt_mask  # (B, P + t): every token read so far
    done = torch.zeros(B, dtype=torch.bool, device=device)
    tokens, logps, alive = [], [], []
    with evaluating(model):
        for _ in range(max_new_tokens):
            logits = model(input_ids=ids, attention_mask=mask,
                           position_ids=positions(mask)).logits[:, -1]  # (B, V)
            u = None if greedy else torch.rand(B, 1, generator=generator, dtype=torch.float64)
            token, logp = next_tokens(logits, temperature, top_k, greedy, u)  # (B,), (B,)
            tokens.append(token.masked_fill(done, pad))  # <pad> after <eos>
            logps.append(logp.masked_fill(done, 0.0))
            alive.append(~done)
            done = done | (token == eos)
            if bool(done.all()):
                break
            ids = torch.cat([ids, tokens[-1][:, None]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return Rollout.from_steps(tokenizer, prompts, prompt_ids, prompt_mask, tokens, logps, alive,
                              temperature)


def sample(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
           prompts: list[str] | str, max_new_tokens: int = 16, temperature: float = 1.0,
           top_k: int | None = None, generator: torch.Generator | None = None,
           greedy: bool = False) -> Rollout:
    """Sample one response per prompt from pi_theta at ``temperature``.

    ``logprobs`` are those of the distribution sampled from: log softmax(logits / temperature)
    (with ``top_k``, of the full tempered distribution, before truncation). ``greedy=True`` takes
    the most likely token at every step (temperature is then only used for ``logprobs``).
    Pass a seeded ``generator`` (on the CPU) for reproducible samples.

    Runs the fast path, :func:`course_lib.engine.fast_sample`: the same tokens and
    log-probabilities as :func:`naive_sample` from the same generator, with less work.
    """
    from .engine import fast_sample

    prompts = check_sampling(model, prompts, max_new_tokens, temperature, top_k)
    return fast_sample(model, tokenizer, prompts, max_new_tokens, temperature, top_k, generator,
                       greedy)


SAMPLE_CHUNK = 512  # rows that sample_texts samples at once: a laptop's memory is finite


def sample_texts(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
                 prompts: list[str], chunk_size: int = SAMPLE_CHUNK, **kwargs) -> list[str]:
    """The response texts of :func:`sample` for any number of prompts, ``chunk_size`` at a time.

    For evaluations over thousands of responses: the KV cache and logits of a chunk are freed
    before the next, so memory does not grow with the number of prompts. ``kwargs`` go to
    :func:`sample`; one ``generator`` (if given) runs on through all the chunks.
    """
    V.positive_int("chunk_size", chunk_size)
    prompts = V.texts("prompts", prompts)
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
    V.positive_number("temperature", temperature)
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   position_ids=positions(attention_mask)).logits  # (B, T, V)
    logp = F.log_softmax(logits[:, :-1].float() / temperature, dim=-1)  # (B, T-1, V)
    return logp.gather(2, input_ids[:, 1:, None]).squeeze(2)  # (B, T-1)


def response_token_logprobs(model: PreTrainedModel, rollout: Rollout,
                            temperature: float | None = None) -> torch.Tensor:
    """log pi(y_t | x, y_<t) of each response token of ``rollout``, recomputed with one plain
    forward pass over the whole (B, P + R) batch: (B, R), 0 on padding. Differentiable.

    Equal to the log-probs recorded while sampling (same temperature), up to float error: the
    reference :func:`course_lib.engine.fast_token_logprobs` is checked against.
    """
    temperature = rollout.temperature if temperature is None else temperature
    P = rollout.prompt_ids.shape[1]
    lp = token_logprobs(model, rollout.input_ids, rollout.attention_mask, temperature)
    return lp[:, P - 1:] * rollout.response_mask  # (B, R): predictions of the response tokens
