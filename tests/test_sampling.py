"""Sampling: log-probs equal a fresh forward pass, seeds reproduce, bad input is named."""

import pytest
import torch

import course_lib
from course_lib import world as W
from course_lib.sampling import draw, response_token_logprobs, sample, sample_texts


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def test_logprobs_match_a_fresh_forward_pass(base):
    model, tok = base
    world = W.default_world()
    # prompts of different lengths (left padding) and responses that end at different steps
    prompts = [W.question(e.country) for e in world.entities[:4]] + [
        "12 + 34 =", "The capital of " + world.entities[5].country + " is", "People in Riland"]
    r = sample(model, tok, prompts, max_new_tokens=12, generator=torch.Generator().manual_seed(0))
    assert r.prompt_mask[:, 0].min() == 0  # some rows are left-padded
    lengths = r.lengths.tolist()
    assert min(lengths) < r.response_ids.shape[1]  # some rows ended early with <eos>
    fresh = response_token_logprobs(model, r)
    assert torch.allclose(fresh, r.logprobs, atol=1e-4)
    # the mask covers the response up to and including <eos>, and nothing after it
    for ids, n in zip(r.response_ids, lengths):
        if n < len(ids):
            assert ids[n - 1] == tok.eos_token_id and (ids[n:] == tok.pad_token_id).all()


def test_logprobs_match_at_another_temperature(base):
    model, tok = base
    r = sample(model, tok, ["12 + 34 =", "People in"], temperature=0.7,
               generator=torch.Generator().manual_seed(3))
    assert torch.allclose(response_token_logprobs(model, r), r.logprobs, atol=1e-4)


def test_same_seed_same_samples(base):
    model, tok = base
    prompts = [W.question(e.country) for e in W.default_world().entities[:6]]
    a = sample(model, tok, prompts, generator=torch.Generator().manual_seed(7))
    b = sample(model, tok, prompts, generator=torch.Generator().manual_seed(7))
    c = sample(model, tok, prompts, generator=torch.Generator().manual_seed(8))
    assert a.texts == b.texts and torch.equal(a.response_ids, b.response_ids)
    assert torch.equal(a.logprobs, b.logprobs)
    assert a.texts != c.texts


def test_greedy_ignores_the_generator(base):
    model, tok = base
    a = sample(model, tok, ["12 + 34 ="], greedy=True, generator=torch.Generator().manual_seed(1))
    b = sample(model, tok, ["12 + 34 ="], greedy=True, generator=torch.Generator().manual_seed(2))
    assert a.texts == b.texts and W.parse_response(a.texts[0]).answer == "46"


@pytest.mark.parametrize("kwargs, match", [
    (dict(prompts=[]), "prompts must be a non-empty list"),
    (dict(prompts=["ok", "  "]), r"prompts\[1\] must be a non-empty string"),
    (dict(temperature=0), "temperature must be > 0"),
    (dict(temperature=-1.0), "temperature must be > 0"),
    (dict(max_new_tokens=0), "max_new_tokens must be a positive int"),
    (dict(max_new_tokens=64), "max_new_tokens must be below the model's context"),
    (dict(top_k=0), "top_k must be a positive int"),
    (dict(prompts=["Riland " * 60]), r"prompts\[0\] is 61 tokens, longer than"),
])
def test_bad_input_is_named(base, kwargs, match):
    model, tok = base
    args = dict(prompts=["People in"]) | kwargs
    with pytest.raises(ValueError, match=match):
        sample(model, tok, **args)


def test_each_row_is_sampled_as_if_alone(base):
    """Rows that have ended leave the batch and its KV cache: each row's tokens are those a
    plain loop gives it (a full forward pass per token, no cache, no other rows), from the same
    random numbers (one per row and step, whether the row is still going or not)."""
    model, tok = base
    world = W.default_world()
    e = world.entities[0]  # pages the base model ends after a few words
    pages = [f"People in {e.country} like {e.food}. {e.country} has many {e.thing}. The flag of "
             f"{e.country} is {e.color}. Children in {e.country} eat",
             f"{e.country} has many {e.thing}. The flag of {e.country} is"]
    prompts = [W.question(e.country) for e in world.entities[:3]] + ["12 + 34 =", "People in"]
    prompts += pages
    r = sample(model, tok, prompts, max_new_tokens=12, generator=torch.Generator().manual_seed(4))
    assert len(set(r.lengths.tolist())) > 2  # rows end at different steps
    g = torch.Generator().manual_seed(4)
    u = [torch.rand(len(prompts), 1, generator=g, dtype=torch.float64) for _ in range(12)]
    for i, prompt in enumerate(prompts):
        ids = tok(prompt, return_tensors="pt")["input_ids"]
        for t in range(int(r.lengths[i])):
            with torch.no_grad():
                probs = torch.softmax(model(input_ids=ids).logits[:, -1].float(), dim=-1)
            token = draw(probs, u=u[t][i:i + 1])
            assert token.item() == r.response_ids[i, t].item(), (prompt, t)
            ids = torch.cat([ids, token[None]], dim=1)
        assert ids[0, -1] == tok.eos_token_id or r.lengths[i] == 12


def test_draw_follows_the_probabilities_and_never_draws_a_zero():
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.2], [0.0, 0.0, 2.0, 2.0]])  # row 2 sums to 4
    g = torch.Generator().manual_seed(0)
    n = 20_000
    draws = torch.stack([draw(probs, g) for _ in range(n)])  # (n, 2)
    freq0 = torch.bincount(draws[:, 0], minlength=4).double() / n
    freq1 = torch.bincount(draws[:, 1], minlength=4).double() / n
    assert torch.allclose(freq0, torch.tensor([0.5, 0.0, 0.3, 0.2], dtype=torch.float64),
                          atol=0.015)
    assert torch.allclose(freq1, torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64),
                          atol=0.015)
    assert freq0[1] == 0 and freq1[:2].sum() == 0  # tokens of probability 0: never
    a = draw(probs, torch.Generator().manual_seed(3))
    b = draw(probs, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (2,) and a.dtype == torch.long


def test_sample_texts_in_chunks(base):
    model, tok = base
    prompts = [W.addition_question(a, b) for a, b in W.addition_problems("test")[:5]]
    whole = sample(model, tok, prompts, max_new_tokens=8, greedy=True).texts
    assert sample_texts(model, tok, prompts, chunk_size=2, max_new_tokens=8, greedy=True) == whole
    sampled = sample_texts(model, tok, prompts, chunk_size=2, max_new_tokens=8,
                           generator=torch.Generator().manual_seed(0))
    assert len(sampled) == 5 and sampled == sample_texts(
        model, tok, prompts, chunk_size=2, max_new_tokens=8,
        generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        sample_texts(model, tok, prompts, chunk_size=0)
