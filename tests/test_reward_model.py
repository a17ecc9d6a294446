"""The reward model of lesson 06: the Bradley-Terry loss, scoring, training, the gold preference."""

from __future__ import annotations

import random

import pytest
import torch

import course_lib
from course_lib import world as W
from course_lib.preferences import (
    Comparison,
    candidate_pairs,
    gold_score,
    label_pair,
    noise_ceiling,
    preference_probability,
    recall_scores,
)
from course_lib.reward_model import (
    RMConfig,
    bradley_terry_loss,
    build_reward_model,
    pairwise_accuracy,
    score,
    train_reward_model,
)


@pytest.fixture(scope="module")
def base():
    return course_lib.load_base_model(device="cpu")


def test_bt_loss_finite_and_correct_at_huge_margins():
    rc = torch.tensor([1e4, -1e4, 0.0])
    rr = torch.zeros(3)
    per_pair = torch.stack([bradley_terry_loss(rc[i:i + 1], rr[i:i + 1]) for i in range(3)])
    assert torch.isfinite(per_pair).all()
    assert per_pair[0].item() == pytest.approx(0.0, abs=1e-6)  # sure win
    assert per_pair[1].item() == pytest.approx(1e4, rel=1e-6)  # sure loss: -log sigmoid(-1e4)
    assert per_pair[2].item() == pytest.approx(0.6931472, rel=1e-6)  # log 2
    loss = bradley_terry_loss(rc.requires_grad_(), rr)
    loss.backward()
    assert torch.isfinite(rc.grad).all()


def test_bt_loss_bad_input():
    with pytest.raises(ValueError, match="same length"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="empty"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="floating"):
        bradley_terry_loss(torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long))


def test_pairwise_accuracy_ties_are_errors():
    assert pairwise_accuracy(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0])) == \
        pytest.approx(1 / 3)


def test_gold_preference():
    e = W.default_world().select("test", known=True)[0]
    q = W.question(e.country)
    right = W.CONFIDENT.format(country=e.country, answer=e.capital)
    wrong = W.CONFIDENT.format(country=e.country, answer="Nowhereburg")
    hedged = W.HEDGED.format(country=e.country, answer=e.capital)
    ramble = right + " People like rivers and many other things there."
    assert gold_score(q, right) > gold_score(q, hedged) > gold_score(q, W.abstain(e.country)) \
        > gold_score(q, wrong)
    assert gold_score(q, ramble) < gold_score(q, right)
    assert preference_probability(1.0, -1.0) > 0.99
    assert preference_probability(0.0, 0.0) == 0.5
    with pytest.raises(ValueError, match="identical"):
        label_pair(q, right, right, random.Random(0))
    with pytest.raises(ValueError, match="same response"):
        Comparison(q, right, right)
    pairs = candidate_pairs([q], [[right, right, wrong]], 5, random.Random(0))
    assert len(pairs) == 1  # the identical pair is skipped
    with pytest.raises(ValueError, match="empty"):
        noise_ceiling([])


def test_recall_scores_read_the_models_recall(base):
    """The hand-written rule of lesson 06: the base model recalls a known capital (p near 1),
    so right > abstain > wrong, each close to its gold score; it never sees the truth."""
    model, tok = base
    world = W.default_world()
    e = world.select("test", known=True)[0]
    other = W.wrong_capital(e, random.Random(0), world)
    q = W.question(e.country)
    responses = [W.CONFIDENT.format(country=e.country, answer=e.capital),
                 W.HEDGED.format(country=e.country, answer=e.capital), W.abstain(e.country),
                 W.CONFIDENT.format(country=e.country, answer=other), "the the the"]
    s = recall_scores(model, tok, [q] * len(responses), responses)
    assert s.shape == (5,)
    gold = torch.tensor([gold_score(q, y) for y in responses])
    assert torch.allclose(s, gold, atol=0.2), (s, gold)  # p(right) > 0.9 for a known country
    assert s[0] > s[1] > s[2] > s[3]
    # an unknown country: no capital is recalled, so abstaining beats any confident answer
    u = world.select("test", known=False)[0]
    qu = W.question(u.country)
    su = recall_scores(model, tok, [qu] * 2, [W.abstain(u.country),
                                               W.CONFIDENT.format(country=u.country,
                                                                  answer=u.capital)])
    assert su[0] > su[1]
    with pytest.raises(ValueError, match="fact questions"):
        recall_scores(model, tok, [W.addition_question(12, 34)], ["46"])
    with pytest.raises(ValueError, match="same length"):
        recall_scores(model, tok, [q], responses)


def test_scores_batch_order_and_padding_invariant(base):
    model, tok = base
    rm = build_reward_model(model, seed=1)
    torch.nn.init.normal_(rm.score.weight, std=1.0)  # make the scores differ visibly
    prompts = [W.question(e.country) for e in W.default_world().select("test")[:4]]
    responses = ["I do not know.", "The capital of Zapoudor is Dramupur and it has many rivers.",
                 "I am not sure.", "The capital is Dramupur."]
    together = score(rm, tok, prompts, responses)
    alone = torch.cat([score(rm, tok, [p], [r]) for p, r in zip(prompts, responses)])
    reversed_ = score(rm, tok, prompts[::-1], responses[::-1]).flip(0)
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, reversed_, atol=1e-5)
    assert together.std() > 1e-3
    assert not rm.training
    rm.train()
    assert torch.allclose(score(rm, tok, prompts, responses), together)  # scored in eval mode
    assert rm.training  # and the mode is given back


def test_training_lowers_the_loss(base):
    model, tok = base
    world = W.default_world()
    rng = random.Random(0)
    comps = []
    for e in world.select("sft", known=True)[:30]:
        q = W.question(e.country)
        comps.append(Comparison(q, W.CONFIDENT.format(country=e.country, answer=e.capital),
                                W.abstain(e.country) if rng.random() < 0.5 else "rivers rivers"))
    rm = build_reward_model(model)
    history = train_reward_model(rm, tok, comps, RMConfig(steps=30, batch_size=16, lr=1e-3),
                                 progress=False)
    first, last = history[0]["loss"], sum(h["loss"] for h in history[-5:]) / 5
    assert first > 0.5 and last < 0.5 * first, (first, last)
    with pytest.raises(ValueError, match="no comparisons"):
        train_reward_model(rm, tok, [], RMConfig(steps=1), progress=False)


def test_lesson_06s_model_is_cached_for_load_reward_model(tmp_path, monkeypatch):
    """Lesson 06 trains the recipe's reward model and keeps it (cache_reward_model), so that
    load_reward_model, in lessons 07 and 10, loads that very model and trains nothing. A
    partial run, other pairs or another config are refused, naming the argument."""
    from course_lib import preferences as P
    from course_lib import reward_model as RM

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    policy, tok = course_lib.load_sft_model(device="cpu", progress=False)
    train_pairs, _ = P.course_comparisons(policy, tok)
    config = RMConfig(steps=3, batch_size=8)
    rm = build_reward_model(policy, seed=0)
    history = train_reward_model(rm, tok, train_pairs, config, progress=False)
    with pytest.raises(ValueError, match="history must be the 3 rows"):
        RM.cache_reward_model(rm, tok, train_pairs, history[:2], config)
    with pytest.raises(ValueError, match="history must be the 180 rows"):
        RM.cache_reward_model(rm, tok, train_pairs, history)  # the default config: 180 steps
    with pytest.raises(ValueError, match="train_pairs are not the course's"):
        RM.cache_reward_model(rm, tok, train_pairs[1:], history, config)
    with pytest.raises(ValueError, match="rm must be a GPT2ForSequenceClassification"):
        RM.cache_reward_model(policy, tok, train_pairs, history, config)
    with pytest.raises(ValueError, match="config must be an RMConfig"):
        RM.cache_reward_model(rm, tok, train_pairs, history, {"steps": 3})
    assert not list(tmp_path.glob("reward-model-*"))  # nothing refused was stored
    path = RM.cache_reward_model(rm, tok, train_pairs, history, config)
    assert path is not None and path.parent == tmp_path

    def no_training(*args, **kwargs):
        raise AssertionError("load_reward_model trained although lesson 06's model was cached")

    monkeypatch.setattr(RM, "train_reward_model", no_training)
    loaded, _ = RM.load_reward_model(config, progress=False)
    mine, theirs = rm.state_dict(), loaded.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
