"""The fast path (course_lib.engine) against the plain versions of course_lib.sampling: the same
tokens and log-probabilities (to 1e-5) from the same random numbers, and the same gradients.

The equalities are checked on a float64 copy of the model, where only the algorithm can make
the two differ (the log-probs come out identical); in float32, the KV cache and the plain
forward sum in different orders, and the log-probs differ by up to about 2e-5 (checked to 1e-4).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import course_lib
from course_lib import world as W
from course_lib.engine import fast_sample, fast_token_logprobs, prompt_groups, split_point
from course_lib.sampling import naive_sample, positions, response_token_logprobs, sample


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


@pytest.fixture(scope="module")
def base64(base):
    model, tok = base
    return copy.deepcopy(model).double(), tok


def _prompts() -> list[str]:
    """RL-like prompts: 4 samples each of 3 questions, 2 of a shorter prompt (more left
    padding), and pages the base model ends after a few words, so that most rows end early
    and a few ramble on, as in RL."""
    world = W.default_world()
    prompts = [p for e in world.entities[:3] for p in [W.question(e.country)] * 4]
    e = world.entities[0]  # pages the base model ends after a few words
    long_page = (f"People in {e.country} like {e.food}. {e.country} has many {e.thing}. The flag "
                 f"of {e.country} is {e.color}. Children in {e.country} eat")
    flag_page = f"{e.country} has many {e.thing}. The flag of {e.country} is"
    return prompts + ["12 + 34 ="] * 2 + ["People in", "The capital of Riland is"] + [
        long_page] * 4 + [flag_page] * 12


def _assert_same(naive, fast, atol=1e-5):
    assert naive.texts == fast.texts
    assert torch.equal(naive.response_ids, fast.response_ids)
    assert torch.equal(naive.response_mask, fast.response_mask)
    assert torch.equal(naive.prompt_ids, fast.prompt_ids)
    assert torch.equal(naive.prompt_mask, fast.prompt_mask)
    assert torch.allclose(naive.logprobs, fast.logprobs, atol=atol, rtol=0)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(temperature=0.7), dict(temperature=1.5, top_k=5), dict(greedy=True),
    dict(max_new_tokens=4),  # cut off at the horizon, before every row has ended
])
def test_fast_sample_equals_naive_sample(base64, kwargs):
    model, tok = base64
    for seed in (0, 1, 2):
        args = dict(max_new_tokens=12) | kwargs
        naive = naive_sample(model, tok, _prompts(), generator=torch.Generator().manual_seed(seed),
                             **args)
        fast = fast_sample(model, tok, _prompts(), generator=torch.Generator().manual_seed(seed),
                           **args)
        _assert_same(naive, fast)
        assert len(set(naive.lengths.tolist())) > 1 or "greedy" in kwargs  # rows end apart
        # the course's sampler is the fast path
        public = sample(model, tok, _prompts(), generator=torch.Generator().manual_seed(seed),
                        **args)
        _assert_same(naive, public)


def test_fast_sample_equals_naive_sample_in_float32(base):
    """The course's own model, in float32: the same tokens, log-probs to float error."""
    model, tok = base
    for seed, kwargs in ((0, {}), (1, dict(temperature=1.5, top_k=5)), (2, dict(greedy=True))):
        _assert_same(naive_sample(model, tok, _prompts(), 12,
                                  generator=torch.Generator().manual_seed(seed), **kwargs),
                     fast_sample(model, tok, _prompts(), 12,
                                 generator=torch.Generator().manual_seed(seed), **kwargs),
                     atol=1e-4)


def test_fast_and_naive_draw_the_same_random_numbers(base64):
    """One generator through several calls (as in training): both consume it alike, so the
    second call agrees too."""
    model, tok = base64
    g_naive, g_fast = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(3):
        _assert_same(naive_sample(model, tok, _prompts(), generator=g_naive),
                     fast_sample(model, tok, _prompts(), generator=g_fast))
    assert torch.equal(g_naive.get_state(), g_fast.get_state())


def test_naive_sample_is_sampling_as_if_each_row_were_alone(base):
    """The plain loop written out once more, one row at a time and without any batch."""
    model, tok = base
    prompts = _prompts()[::3]
    r = naive_sample(model, tok, prompts, max_new_tokens=10,
                     generator=torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    u = [torch.rand(len(prompts), 1, generator=g, dtype=torch.float64) for _ in range(10)]
    for i, prompt in enumerate(prompts):
        ids = tok(prompt, return_tensors="pt")["input_ids"]
        for t in range(int(r.lengths[i])):
            with torch.no_grad():
                probs = torch.softmax(model(input_ids=ids).logits[:, -1].float(), dim=-1)
            token = int(torch.searchsorted(probs.double().cumsum(-1),
                                           u[t][i:i + 1] * probs.double().sum(), right=True))
            assert token == r.response_ids[i, t].item(), (prompt, t)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_fast_token_logprobs_equal_one_plain_forward(base, base64, precision):
    """The split, prompt-sharing forward gives the log-probs, entropies and gradients of one
    plain forward over the whole batch."""
    model, tok = copy.deepcopy((base64 if precision == "float64" else base)[0]), base[1]
    atol = 1e-5 if precision == "float64" else 1e-4
    r = sample(model, tok, _prompts(), max_new_tokens=10,
               generator=torch.Generator().manual_seed(1))
    assert split_point(r.lengths) < r.response_ids.shape[1]  # the long rows are read on alone
    plain = copy.deepcopy(model)
    naive = response_token_logprobs(plain, r)  # (B, R), with gradient
    assert torch.allclose(naive, r.logprobs, atol=atol)
    fast, entropy = fast_token_logprobs(model, r, 1.0)
    assert torch.allclose(fast, naive, atol=atol, rtol=0)
    with torch.no_grad():  # the entropy of every response position, computed plainly
        logits = plain(input_ids=r.input_ids, attention_mask=r.attention_mask,
                       position_ids=positions(r.attention_mask)).logits
        logp = F.log_softmax(logits[:, r.prompt_ids.shape[1] - 1:-1].float(), dim=-1)
        plain_entropy = -(logp.exp() * logp).sum(-1) * r.response_mask
    assert torch.allclose(entropy, plain_entropy, atol=atol)
    fast.sum().backward()
    naive.sum().backward()
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-3, rtol=1e-3)
    no_entropy, none = fast_token_logprobs(model, r, 0.7, entropy=False)
    assert none is None
    assert torch.allclose(no_entropy, response_token_logprobs(plain, r, 0.7), atol=atol)


def test_prompt_groups_rebuild_the_batch():
    prompts = ["a", "b", "a", "c", "b", "a"]
    first, rows = prompt_groups(prompts)
    assert first.tolist() == [0, 1, 3] and rows.tolist() == [0, 1, 0, 2, 1, 0]
    assert [prompts[i] for i in first[rows].tolist()] == prompts


def test_split_point_reads_the_fewest_tokens():
    # 8 x 3 + 1 x 7 tokens (+ 8 for the second pass), not 8 x 10
    assert split_point(torch.tensor([3] * 7 + [10])) == 3
    assert split_point(torch.tensor([5, 5, 5, 5])) == 5  # no long tail: one part
    assert split_point(torch.tensor([8, 9, 9, 9])) == 9  # a second pass would save too little
    assert split_point(torch.tensor([1, 1, 1, 1, 1, 16])) == 1


def test_both_samplers_check_their_arguments_alike(base):
    model, tok = base
    for sampler in (naive_sample, sample):
        with pytest.raises(ValueError, match="temperature must be > 0"):
            sampler(model, tok, ["People in"], temperature=float("inf"))
        with pytest.raises(ValueError, match="prompts must be a non-empty list"):
            sampler(model, tok, [])
